"""Builders of source trees and git repositories for the repository collector tests.

Files are written as the tools that own the formats write them, and git
repositories are made by the git binary with commit and tag dates set through
GIT_AUTHOR_DATE and GIT_COMMITTER_DATE.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

from collectors.base import Findings

# Identity options for every commit and tag the tests make.
IDENTITY = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")

ORACLE_IMAGE = "container-registry.oracle.com/database/enterprise:21.3.0"
MSSQL_IMAGE = "mcr.microsoft.com/mssql/server:2022-latest"


def write(root: Path, relative: str, text: str | bytes = "") -> Path:
    """Write a file below root, creating its directories."""
    location = root / relative
    location.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        location.write_bytes(text)
    else:
        location.write_text(text)
    return location


def git_environment(date: dt.datetime | None = None, committer=None) -> dict[str, str]:
    """Return an environment for git that ignores the user's and system's config."""
    environment = dict(os.environ)
    environment.update(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    if date is not None:
        environment["GIT_AUTHOR_DATE"] = date.isoformat()
        environment["GIT_COMMITTER_DATE"] = (committer or date).isoformat()
    return environment


def git(repo: Path, *arguments: str, date=None, committer=None) -> str:
    """Run git in repo and return its output; fail the test when git fails."""
    completed = subprocess.run(
        ["git", *arguments],
        cwd=repo,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=git_environment(date, committer),
    )
    assert completed.returncode == 0, f"git {arguments}: {completed.stderr}"
    return completed.stdout


def init_repository(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "-c", "init.defaultBranch=main", "init", "-q")
    return repo


def commit(
    repo: Path,
    message: str,
    date: dt.datetime,
    *,
    committer: dt.datetime | None = None,
    files: dict[str, str] | None = None,
) -> str:
    """Write files (or a change log line), commit them at `date`; return the hash.

    `committer` sets a committer date different from the author date, as a
    rebase does.
    """
    for relative, text in (files or {"CHANGES": f"{message}\n"}).items():
        location = repo / relative
        location.parent.mkdir(parents=True, exist_ok=True)
        previous = location.read_text() if location.exists() else ""
        location.write_text(previous + text if relative == "CHANGES" else text)
    git(repo, "add", "-A")
    git(repo, *IDENTITY, "commit", "-q", "-m", message, date=date, committer=committer)
    return git(repo, "rev-parse", "HEAD").strip()


def tag(repo: Path, name: str, *, date: dt.datetime | None = None) -> None:
    """Create a tag on HEAD: annotated with a tagger date when `date` is given."""
    if date is None:
        git(repo, "tag", name)
    else:
        git(repo, *IDENTITY, "tag", "-a", name, "-m", name, date=date)


def utc(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def collect(collector) -> tuple[dict, dict, list[str]]:
    """Run a collector; return its facts and gaps by key, and its notes."""
    findings = Findings()
    collector.collect(findings)
    facts, gaps, notes = findings.snapshot()
    return {f.key: f for f in facts}, {g.key: g for g in gaps}, notes


def package_lock(packages: dict[str, dict]) -> str:
    """Return a lockfileVersion 3 package-lock.json listing `packages`.

    Keys are package names; values are the entry fields (version, license).
    """
    entries: dict[str, dict] = {"": {"name": "app", "version": "1.0.0"}}
    for name, fields in packages.items():
        entries[f"node_modules/{name}"] = {
            "version": fields["version"],
            "resolved": f"https://registry.npmjs.org/{name}/-/{name}-"
            f"{fields['version']}.tgz",
            **{key: value for key, value in fields.items() if key != "version"},
        }
    document = {
        "name": "app",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": entries,
    }
    return json.dumps(document, indent=2) + "\n"


def line_number(path: Path, needle: str) -> int:
    """Return the 1-based number of the first line of a file containing needle."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


GPU_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
  namespace: ml
spec:
  replicas: 1
  selector:
    matchLabels: {app: trainer}
  template:
    metadata:
      labels: {app: trainer}
    spec:
      tolerations:
        - key: dedicated
          operator: Equal
          value: ml
          effect: NoSchedule
      containers:
        - name: trainer
          image: nvcr.io/nvidia/tritonserver:24.01-py3
          resources:
            limits:
              nvidia.com/gpu: 1
              memory: 16Gi
"""

DEFAULT_DENY_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
  namespace: ml
spec:
  podSelector: {}
  policyTypes:
    - Ingress
    - Egress
"""

ALLOW_WEB_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web
  namespace: ml
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {}
"""


def workload(
    kind: str, name: str, image: str = "nginx:1.25", pod_extra: str = ""
) -> str:
    """Return a minimal workload manifest of `kind` with one container."""
    return f"""\
apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{pod_extra}      containers:
        - name: {name}
          image: {image}
"""
