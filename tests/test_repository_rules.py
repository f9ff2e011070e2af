"""Repository facts judged by the order-308 pack: the verdicts a CI scan gives."""

from __future__ import annotations

import pytest

from collectors.base import Findings
from collectors.repository import RepositoryCollector
from rules.engine import evaluate
from rules.resolve import resolve
from tests import repo_builders as builders
from tests.helpers import TODAY
from tests.repo_builders import (
    DEFAULT_DENY_POLICY,
    GPU_DEPLOYMENT,
    ORACLE_IMAGE,
    utc,
    workload,
    write,
)


def verdicts(path, pack, vocabulary) -> dict[int, str]:
    findings = Findings()
    RepositoryCollector(str(path), now=utc(2024, 6, 1).timestamp()).collect(findings)
    facts, gaps, notes = findings.snapshot()
    status = {
        "name": "repository",
        "status": "partial" if gaps else "ok",
        "gaps": [gap.to_dict() for gap in gaps],
        "notes": notes,
    }
    resolution = resolve(
        [fact.to_dict() for fact in facts],
        vocabulary,
        today=TODAY,
        gaps=status["gaps"],
    )
    criteria, _ = evaluate(pack, resolution, vocabulary, [status])
    return {criterion["id"]: criterion["verdict"] for criterion in criteria}


@pytest.fixture
def complex_system(tmp_path):
    repo = builders.init_repository(tmp_path / "registry")
    files = {
        "db/Dockerfile": f"FROM {ORACLE_IMAGE}\n",
        "deploy/trainer.yaml": GPU_DEPLOYMENT,
        "deploy/policy.yaml": DEFAULT_DENY_POLICY,
    }
    builders.commit(repo, "start", utc(2023, 1, 10), files=files)
    builders.tag(repo, "v1.0.0", date=utc(2023, 3, 1))
    builders.commit(repo, "second stage", utc(2024, 3, 20))
    builders.tag(repo, "v2.0.0", date=utc(2024, 3, 21))
    return repo


def test_complex_system_meets_criteria(complex_system, pack, vocabulary):
    result = verdicts(complex_system, pack, vocabulary)
    for criterion in (1, 2, 5, 7, 8, 9, 13):
        assert result[criterion] == "met", criterion


def test_plain_tree_decides_nothing(tmp_path, pack, vocabulary):
    write(tmp_path, "requirements.txt", "flask==3.0.2\n")
    write(tmp_path, "k8s/web.yaml", workload("Deployment", "web"))
    result = verdicts(tmp_path, pack, vocabulary)
    for criterion in (1, 2, 5, 7, 8, 9, 13):
        assert result[criterion] == "unknown", criterion


def test_short_history_not_met(tmp_path, pack, vocabulary):
    repo = builders.init_repository(tmp_path / "young")
    builders.commit(repo, "start", utc(2024, 1, 1))
    builders.commit(repo, "finish", utc(2024, 5, 1))
    assert verdicts(repo, pack, vocabulary)[2] == "not_met"
