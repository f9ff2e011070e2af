"""RepositoryCollector on real git repositories: development months and stages."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

import pytest

from collectors import errors
from collectors.repository import RepositoryCollector
from tests import repo_builders as builders
from tests.repo_builders import utc

MONTHS = "project.development_months"
PHASES = "project.commissioning_phases"
FIRST = utc(2023, 1, 16, 9)
MIDDLE = utc(2023, 9, 1)
LAST = utc(2024, 3, 18, 17)
# The scan happens after the last commit.
SCAN_TIME = utc(2024, 6, 1).timestamp()


def expected_months(start: dt.datetime, end: dt.datetime) -> float:
    return round((end - start).total_seconds() / 86400 / 30.436875, 1)


@pytest.fixture
def project(tmp_path):
    """A repository with three commits over 14 months and five tags."""
    repo = builders.init_repository(tmp_path / "payments")
    first = builders.commit(repo, "start", FIRST)
    builders.tag(repo, "v1.0.0", date=utc(2023, 2, 1))
    builders.commit(repo, "middle", MIDDLE)
    builders.tag(repo, "v1.1.0", date=utc(2023, 9, 2))
    builders.tag(repo, "nightly")
    last = builders.commit(repo, "finish", LAST)
    builders.tag(repo, "v2.0.0", date=utc(2024, 3, 20))
    builders.tag(repo, "release-2024.03")
    return repo, first, last


def run(path, **options):
    return builders.collect(RepositoryCollector(str(path), now=SCAN_TIME, **options))


def test_months_from_first_to_last_commit(project):
    repo, _, _ = project
    facts, _, _ = run(repo)
    assert facts[MONTHS].value == expected_months(FIRST, LAST)
    assert facts[MONTHS].value == 14.0


def test_months_fact_is_derived_and_exact(project):
    repo, _, _ = project
    fact = run(repo)[0][MONTHS]
    assert fact.unit == "months"
    assert fact.provenance == "derived"
    assert fact.bound is None
    assert fact.uncertain is False


def test_months_details_name_the_commits(project):
    repo, first, last = project
    details = run(repo)[0][MONTHS].details
    assert details["first_commit"]["hash"] == first
    assert details["last_commit"]["hash"] == last
    assert details["first_commit"]["author_date"] == FIRST.isoformat()
    assert details["last_commit"]["author_date"] == LAST.isoformat()
    assert details["commit_count"] == 3
    assert details["commit_range"] == f"{first}..{last}"
    assert details["date_used"] == "author"
    assert details["shallow"] is False


def test_months_use_author_dates_after_rebase(tmp_path):
    repo = builders.init_repository(tmp_path / "rebased")
    rewritten = utc(2024, 5, 1)
    builders.commit(repo, "start", FIRST, committer=rewritten)
    builders.commit(repo, "finish", LAST, committer=rewritten)
    facts, _, _ = run(repo)
    assert facts[MONTHS].value == expected_months(FIRST, LAST)
    assert facts[MONTHS].details["first_commit"]["committer_date"] == (
        rewritten.isoformat()
    )


def test_scope_and_source(project):
    repo, _, _ = project
    fact = run(repo)[0][MONTHS]
    assert fact.scope == "payments"
    assert fact.source == f"repository {repo}"
    assert fact.observed_at == "2024-06-01T12:00:00Z"


def test_stage_tags_counted(project):
    repo, _, _ = project
    fact = run(repo)[0][PHASES]
    assert fact.value == 3
    assert [stage["tag"] for stage in fact.details["stages"]] == [
        "v1.0.0",
        "release-2024.03",
        "v2.0.0",
    ]


def test_stage_tags_details(project):
    repo, first, _ = project
    fact = run(repo)[0][PHASES]
    stage = fact.details["stages"][0]
    assert stage["date"] == "2023-02-01T12:00:00+00:00"
    assert stage["commit"] == first
    assert stage["annotated"] is True
    assert fact.details["other_tags"] == ["nightly", "v1.1.0"]
    assert fact.details["tags_total"] == 5


def test_stage_count_is_a_derived_lower_bound(project):
    repo, _, _ = project
    fact = run(repo)[0][PHASES]
    assert fact.unit == "count"
    assert fact.provenance == "derived"
    assert fact.bound == "lower"


def test_major_version_tags_only(tmp_path):
    repo = builders.init_repository(tmp_path / "app")
    builders.commit(repo, "start", FIRST)
    builders.tag(repo, "v1.0.0", date=utc(2023, 2, 1))
    builders.commit(repo, "finish", LAST)
    builders.tag(repo, "v2.0.0", date=utc(2024, 3, 20))
    builders.tag(repo, "v2.0.1")
    fact = run(repo)[0][PHASES]
    assert fact.value == 2
    assert fact.details["pattern"] == r"^(v?\d+\.0\.0|release-.*|stage-.*)$"


def test_lightweight_tag_dated_by_commit(tmp_path):
    repo = builders.init_repository(tmp_path / "app")
    commit = builders.commit(repo, "start", FIRST)
    builders.tag(repo, "stage-1")
    stage = run(repo)[0][PHASES].details["stages"][0]
    assert stage["date"] == FIRST.isoformat()
    assert stage["commit"] == commit
    assert stage["annotated"] is False


def test_custom_stage_pattern(project):
    repo, _, _ = project
    fact = run(repo, stage_tag_pattern=r"^release-")[0][PHASES]
    assert fact.value == 1
    assert fact.details["stages"][0]["tag"] == "release-2024.03"


def test_invalid_stage_pattern_rejected(tmp_path):
    with pytest.raises(ValueError, match="not a valid regular expression"):
        RepositoryCollector(str(tmp_path), stage_tag_pattern="(")


def test_no_tags_is_zero_lower_bound(tmp_path):
    repo = builders.init_repository(tmp_path / "app")
    builders.commit(repo, "start", FIRST)
    fact = run(repo)[0][PHASES]
    assert fact.value == 0
    assert fact.bound == "lower"


def test_shallow_clone_is_lower_bound(project, tmp_path):
    repo, _, last = project
    clone = tmp_path / "clone"
    builders.git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    fact = run(clone)[0][MONTHS]
    assert fact.value == 0.0
    assert fact.bound == "lower"
    assert fact.details["shallow"] is True
    assert fact.details["first_commit"]["hash"] == last
    assert "shallow clone" in fact.method


def test_shallow_clone_stage_method(project, tmp_path):
    repo, _, _ = project
    clone = tmp_path / "clone"
    builders.git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    fact = run(clone)[0][PHASES]
    assert "shallow clone" in fact.method
    assert fact.bound == "lower"


def test_subdirectory_reads_whole_history(project):
    repo, first, _ = project
    builders.commit(
        repo, "api", utc(2024, 4, 1), files={"services/api/README": "api\n"}
    )
    fact = run(repo / "services/api")[0][MONTHS]
    assert fact.details["first_commit"]["hash"] == first
    assert fact.details["repository_root"] == str(repo)
    assert fact.scope == "api"


def test_untracked_directory_in_repository_is_no_data(project):
    repo, _, _ = project
    export = builders.write(repo, "unpacked/export/go.mod", "module x\n").parent
    _, gaps, _ = run(export)
    assert gaps[MONTHS].reason == errors.NO_DATA
    assert "not tracked by the git repository" in gaps[MONTHS].message


def test_not_a_repository_is_no_data(tmp_path):
    tree = tmp_path / "export"
    builders.write(tree, "package.json", '{"name": "x", "dependencies": {}}\n')
    facts, gaps, _ = run(tree)
    assert gaps[MONTHS].reason == errors.NO_DATA
    assert gaps[PHASES].reason == errors.NO_DATA
    assert "not inside a git repository" in gaps[MONTHS].message
    assert MONTHS not in facts
    assert "stack.components" in facts


def test_repository_without_commits_is_no_data(tmp_path):
    repo = builders.init_repository(tmp_path / "empty")
    _, gaps, _ = run(repo)
    assert gaps[MONTHS].reason == errors.NO_DATA
    assert "no commits" in gaps[MONTHS].message


def test_git_missing_gives_fix(tmp_path, monkeypatch):
    repo = builders.init_repository(tmp_path / "app")
    builders.commit(repo, "start", FIRST)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    _, gaps, _ = run(repo)
    assert gaps[MONTHS].reason == errors.SOURCE_FAILED
    assert "git not found on PATH" in gaps[MONTHS].message
    assert "apt-get install git" in gaps[PHASES].message


def test_commit_after_scan_time_is_uncertain(tmp_path):
    repo = builders.init_repository(tmp_path / "app")
    builders.commit(repo, "start", FIRST)
    builders.commit(repo, "clock wrong", utc(2030, 1, 1))
    fact = run(repo)[0][MONTHS]
    assert fact.uncertain is True
    assert "after the scan time" in fact.details["caveat"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository away")
def test_foreign_owner_rejected_with_fix(tmp_path):
    repo = builders.init_repository(tmp_path / "foreign")
    builders.commit(repo, "start", FIRST)
    nobody = 65534
    for directory, _, names in os.walk(repo):
        os.chown(directory, nobody, nobody)
        for name in names:
            os.chown(os.path.join(directory, name), nobody, nobody)
    _, gaps, _ = run(repo)
    assert gaps[MONTHS].reason == errors.PERMISSION_DENIED
    assert "safe.directory" in gaps[MONTHS].message


def test_git_binary_is_present():
    # The other tests need git; without it they would pass for the wrong reason.
    assert shutil.which("git") is not None
    version = subprocess.run(
        ["git", "--version"], check=False, capture_output=True, text=True, timeout=10
    )
    assert version.stdout.startswith("git version")
