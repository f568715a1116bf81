"""`copier update` keeps generated projects current without losing their users' work.

Everything runs on a real git repository of the template with real PEP 440
tags (``template_versions.py``: 1.0.0 is this working tree, 1.1.0 and 1.2.0
are realistic releases on top), through copier's API, its CLI and the generated
project's own `just update`, always without ``--trust``.

Nothing here installs a project: these scenarios compare trees and run the
update recipes' guards. User edits, `just check` and the pipeline after an
update, and conflicts (in ``params.yaml`` and in the ``justfile``) are replayed
on projects generated from the template's real releases in
``test_update_replay.py``, one installed project per release.
"""

from __future__ import annotations

import filecmp
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_update
from packaging.version import Version
from releases import NEXT_VERSION, RELEASES, replayed
from template_versions import (
    CONTRIBUTING_FILE,
    SECURITY_FILE,
    build_template_versions,
    missing_release_commits,
)

from conftest import ANSWER_SETS, TEMPLATE_ROOT, git_commit_all, load_answers, render, run

pytestmark = pytest.mark.update

# Not part of the rendered tree: git's own data, installs and caches.
IGNORED_PARTS = {".git", ".venv", "__pycache__", ".ruff_cache", ".mypy_cache"}
CONFLICT_START = "<<<<<<< before updating"
CONFLICT_END = ">>>>>>> after updating"


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template_versions(tmp_path_factory.mktemp("template-versions") / "copier-mlops")


def copy_project(
    template: str | Path, dst: Path, version: str, answers: dict[str, Any] | None = None
) -> Path:
    """Copy (no trust) and commit, as a user does right after generating."""
    project = render(dst, answers, src=Path(template), vcs_ref=version)
    git_commit_all(project)
    return project


def update_project(
    project: Path, version: str | None, answers: dict[str, Any] | None = None
) -> None:
    run_update(
        project,
        data=dict(answers or {}),
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        vcs_ref=version,
        conflict="inline",
    )


def answers_of(project: Path) -> dict[str, Any]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def tree(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(root).parts)
    }


def assert_same_tree(left: Path, right: Path, *, kept: frozenset[str] = frozenset()) -> None:
    """Same files with the same contents, except the ``kept`` ones, whose contents may differ."""
    only_left, only_right = tree(left) - tree(right), tree(right) - tree(left)
    assert not only_left, f"only in {left}: {sorted(only_left)}"
    assert not only_right, f"only in {right}: {sorted(only_right)}"
    different = [
        name
        for name in sorted(tree(left))
        if name not in kept and not filecmp.cmp(left / name, right / name, False)
    ]
    assert not different, f"files differ: {different}"


def git_output(project: Path, *args: str) -> str:
    return run(["git", *args], project).stdout


# -- 1. Invariant ---------------------------------------------------------------------------


@pytest.mark.parametrize("answer_set", ANSWER_SETS)
def test_untouched_update_equals_a_fresh_copy(
    answer_set: str, template_repo: Path, tmp_path: Path
) -> None:
    answers = load_answers(answer_set)
    updated = copy_project(template_repo, tmp_path / "updated", "1.0.0", answers)
    update_project(updated, "1.1.0")
    fresh = copy_project(template_repo, tmp_path / "fresh", "1.1.0", answers)
    assert_same_tree(updated, fresh)
    assert answers_of(updated)["_commit"] == "1.1.0"
    assert (updated / SECURITY_FILE).is_file()


# -- 5. No trust, URL-like and absolute template paths, relative-path guard --------------------


def test_cli_copy_and_update_from_a_git_url_without_trust(
    template_repo: Path, tmp_path: Path
) -> None:
    url = f"git+{template_repo.as_uri()}"  # git+file:///…: a URL, valid from any directory
    run(["copier", "copy", "--defaults", "--quiet", "-r", "1.0.0", url, "project"], tmp_path)
    project = tmp_path / "project"
    git_commit_all(project)
    assert answers_of(project)["_src_path"] == url
    # No -r: copier picks the highest PEP 440 tag.
    run(["copier", "update", "--defaults", "--quiet", "--conflict", "inline"], project)
    answers = answers_of(project)
    assert (answers["_commit"], answers["_src_path"]) == ("1.2.0", url)
    assert (project / CONTRIBUTING_FILE).is_file()


def test_api_copy_from_an_absolute_path_records_it_and_updates(
    template_repo: Path, tmp_path: Path
) -> None:
    project = copy_project(template_repo, tmp_path / "project", "1.0.0")
    assert Path(answers_of(project)["_src_path"]).is_absolute()
    update_project(project, "1.1.0")
    assert answers_of(project)["_commit"] == "1.1.0"


def test_relative_template_path_breaks_copier_and_the_recipe_says_how_to_fix_it(
    template_repo: Path, tmp_path: Path
) -> None:
    relative = os.path.relpath(template_repo, tmp_path)
    run(["copier", "copy", "--defaults", "--quiet", "-r", "1.0.0", relative, "project"], tmp_path)
    project = tmp_path / "project"
    git_commit_all(project)
    assert answers_of(project)["_src_path"] == relative
    # Copier resolves the recorded path from the current directory: from the project it fails.
    plain = run(["copier", "update", "--defaults", "--quiet"], project, check=False)
    assert plain.returncode != 0
    guarded = run(["just", "update"], project, check=False)
    assert guarded.returncode == 2
    assert "relative path" in guarded.stderr
    assert "absolute path or a URL" in guarded.stderr


def test_update_recipe_refuses_a_dirty_tree(template_repo: Path, tmp_path: Path) -> None:
    project = copy_project(template_repo, tmp_path / "project", "1.0.0")
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# wip\n")
    result = run(["just", "update"], project, check=False)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr
    assert "params.yaml" in result.stderr
    assert answers_of(project)["_commit"] == "1.0.0"


# -- 4. Option switch -------------------------------------------------------------------------


def test_switching_options_leaves_no_stale_files(template_repo: Path, tmp_path: Path) -> None:
    target = load_answers("regression-gitlab")
    before = {**target, "problem_type": "classification", "ci_provider": "github"}
    project = copy_project(template_repo, tmp_path / "switched", "1.1.0", before)
    package = answers_of(project)["package_name"]
    strategy = f"src/{package}/models/classification.py"
    assert (project / ".github" / "workflows" / "template-update.yml").is_file()
    # The user's strategy module is user-owned, but the new answers do not generate it.
    (project / strategy).write_text((project / strategy).read_text() + "# team strategy\n")
    git_commit_all(project, "feat: team strategy")

    switch = ["-d", "ci_provider=gitlab", "-d", "problem_type=regression"]
    run(["copier", "update", "--defaults", "--quiet", "-r", ":current:", *switch], project)

    assert answers_of(project)["_commit"] == "1.1.0"
    assert not (project / ".github").exists()
    assert not (project / strategy).exists()
    assert "# team strategy" in git_output(project, "show", f"HEAD:{strategy}")
    # Identical to a fresh copy with the new answers, which test_e2e installs and checks
    # (the regression-gitlab answer set); here: lint, YAML and the justfile.
    fresh = copy_project(template_repo, tmp_path / "fresh", "1.1.0", target)
    # model-card.yaml is user-owned (`_skip_if_exists`): written once from the first
    # answers, it is the team's from then on, and an update leaves it as it was.
    assert "It classifies tumours" in (project / "model-card.yaml").read_text()
    assert_same_tree(project, fresh, kept=frozenset({"model-card.yaml"}))
    run(["ruff", "check", "--no-cache", "src", "tests"], project)
    run(["ruff", "format", "--check", "--no-cache", "src", "tests"], project)
    assert yaml.safe_load((project / ".gitlab-ci.yml").read_text())["check"]
    assert "pipeline" in run(["just", "--summary"], project).stdout

    git_commit_all(project, "chore: switch to GitLab CI and regression")
    run(
        ["copier", "update", "--defaults", "--quiet", "-r", ":current:", "-d", "ci_provider=none"],
        project,
    )
    assert not (project / ".gitlab-ci.yml").exists()
    assert not (project / ".github").exists()


# -- Scheduled workflow -----------------------------------------------------------------------


def test_template_update_workflow_is_least_privilege_and_opens_a_pull_request(
    template_repo: Path, tmp_path: Path
) -> None:
    project = render(tmp_path / "project", src=template_repo, vcs_ref="1.0.0")
    workflow = yaml.safe_load((project / ".github/workflows/template-update.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["group"]
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "copier check-update" in script
    assert "copier update --defaults --conflict inline" in script
    # After copier, the scan of the release just applied runs by path: no recipe name, and
    # no need for a justfile that parses (test_update_replay.py runs the steps).
    assert "bash scripts/template-update.sh conflicts" in script
    assert "gh pr create" in script
    assert "--conflict rej" not in script
    for answer_set in ("regression-gitlab", "no-ci-proprietary"):
        other = render(tmp_path / answer_set, load_answers(answer_set), src=template_repo)
        assert not (other / ".github").exists()


# -- Releases: the table the replay tests rebuild, and the CHANGELOG ---------------------------


def test_recorded_releases_are_ordered_and_in_the_changelog_with_their_commit() -> None:
    versions = [release.version for release in RELEASES]
    assert versions == sorted(set(versions), key=Version), "tests/releases.py: oldest first, once"
    assert Version(NEXT_VERSION) > Version(versions[-1])
    assert not missing_release_commits(), "run `git fetch --unshallow`: releases need history"
    changelog = (TEMPLATE_ROOT / "CHANGELOG.md").read_text()
    sections = dict(re.findall(r"(?ms)^## (\S+)\n(.*?)(?=^## |\Z)", changelog))
    for release in RELEASES:
        assert release.version in sections, f"CHANGELOG.md has no '## {release.version}'"
        assert f"Commit `{release.commit[:7]}`" in sections[release.version], release.version
    # Only the release being cut (topmost, tagged before it is recorded) may be missing.
    headings = [name for name in sections if name != "Unreleased"]
    unrecorded = [name for name in headings if name not in versions]
    assert unrecorded in ([], headings[:1]), f"record {unrecorded} in tests/releases.py"
    assert replayed() == RELEASES[-len(replayed()) :]


# -- The update script's contract (scripts/template-update.sh), without an install -------------

SCRIPT = ["bash", "scripts/template-update.sh"]
MARKED = "keep: 1\n<<<<<<< before updating\nmine: 2\n=======\ntheirs: 3\n>>>>>>> after updating\n"


def test_update_script_lists_conflicts_anywhere_and_says_how_to_go_on_without_just(
    tmp_path: Path,
) -> None:
    project = render(tmp_path / "project")
    git_commit_all(project)
    clean = run([*SCRIPT, "conflicts"], project)
    assert (clean.stdout, clean.stderr.strip()) == ("", "No update conflicts.")

    # Committed markers (an update pull request), uncommitted ones, a new file, a just file.
    (project / "committed.yml").write_text(MARKED)
    git_commit_all(project, "chore(template): update with conflicts")
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + MARKED)
    (project / "new file.txt").write_text(MARKED)
    (project / "tasks" / "check.just").write_text(MARKED)
    (project / "notes.md").write_text("<<<<<<< before updating is how copier marks yours\n")

    listed = run([*SCRIPT, "conflicts"], project, check=False)
    expected = ["committed.yml", "new file.txt", "params.yaml", "tasks/check.just"]
    assert (listed.returncode, listed.stdout.splitlines()) == (1, expected)
    assert "conflicts in 4 file(s):" in listed.stderr
    assert "Until tasks/check.just is resolved, 'just' cannot read any recipe" in listed.stderr
    assert "then: bash scripts/template-update.sh post-update" in listed.stderr
    # `just` itself cannot parse now; post-update stops before it would need it.
    assert run(["just", "--summary"], project, check=False).returncode != 0
    stopped = run([*SCRIPT, "post-update"], project, check=False)
    assert stopped.returncode == 1
    assert "tasks/check.just" in stopped.stderr
    assert "uv sync" not in stopped.stdout + stopped.stderr
    # Aliases old releases call after copier: both reach the same scan.
    (project / "tasks" / "check.just").write_text(
        run(["git", "show", "HEAD:tasks/check.just"], project).stdout
    )
    for name in ("update-conflicts", "_update-conflicts"):
        alias = run(["just", name], project, check=False)
        assert (alias.returncode, alias.stdout.splitlines()) == (1, expected[:3]), name


def test_update_script_refuses_unknown_commands_and_a_dirty_tree(tmp_path: Path) -> None:
    project = render(tmp_path / "project")
    git_commit_all(project)
    unknown = run([*SCRIPT, "finish"], project, check=False)
    assert unknown.returncode == 2
    assert "unknown command 'finish'" in unknown.stderr
    assert "post-update" in unknown.stderr
    assert run([*SCRIPT, "preflight"], project).returncode == 0
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# wip\n")
    dirty = run([*SCRIPT, "preflight"], project, check=False)
    assert dirty.returncode == 2
    assert "uncommitted changes" in dirty.stderr
    # Callable from anywhere: it works on the project it belongs to.
    elsewhere = run(
        ["bash", str(project / "scripts" / "template-update.sh"), "conflicts"], tmp_path
    )
    assert elsewhere.returncode == 0
