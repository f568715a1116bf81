"""`copier update` keeps generated projects current without losing their users' work.

Everything runs on a real git repository of the template with real PEP 440
tags (``template_versions.py``: 1.0.0 is this working tree, 1.1.0 and 1.2.0
are realistic releases on top), through copier's API, its CLI and the generated
project's own `just update`, always without ``--trust``.

Only one generated project is installed: it goes through the user-edit update
(full `just check` inside `just update`, then the pipeline) and then the
conflict scenario. The other scenarios compare trees and need no install.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_update
from template_versions import (
    CONTRIBUTING_FILE,
    NEW_RECIPE,
    PARAMS_COMMENT_AFTER,
    PRE_COMMIT_AFTER,
    README_LINE_AFTER,
    REGRESSION_AFTER,
    REGRESSION_BEFORE,
    SECURITY_FILE,
    build_template_versions,
)

from conftest import ANSWER_SETS, git_commit_all, load_answers, render, run

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


def assert_same_tree(left: Path, right: Path) -> None:
    only_left, only_right = tree(left) - tree(right), tree(right) - tree(left)
    assert not only_left, f"only in {left}: {sorted(only_left)}"
    assert not only_right, f"only in {right}: {sorted(only_right)}"
    different = [
        name for name in sorted(tree(left)) if not filecmp.cmp(left / name, right / name, False)
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
    assert_same_tree(project, fresh)
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
    assert "just _update-conflicts" in script
    assert "gh pr create" in script
    assert "--conflict rej" not in script
    for answer_set in ("regression-gitlab", "no-ci-proprietary"):
        other = render(tmp_path / answer_set, load_answers(answer_set), src=template_repo)
        assert not (other / ".github").exists()


# -- 2. User edits survive; 3. conflicts are visible (one installed project) -----------------

FEATURES_MODULE = '''"""Feature engineering owned by the team."""

import pandas as pd


def add_ratio(frame: pd.DataFrame, numerator: str, denominator: str) -> pd.DataFrame:
    """Return ``frame`` with a ``<numerator>_per_<denominator>`` column."""
    ratio = frame[numerator] / frame[denominator]
    return frame.assign(**{f"{numerator}_per_{denominator}": ratio})
'''
FEATURES_TEST = """import pandas as pd

from {package}.features import add_ratio


def test_add_ratio() -> None:
    frame = add_ratio(pd.DataFrame({{"a": [2.0], "b": [4.0]}}), "a", "b")
    assert frame["a_per_b"].tolist() == [0.5]
"""
STRATEGY_IMPORT_BEFORE = (
    "from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier\n"
)
STRATEGY_IMPORT_AFTER = """from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
"""
STRATEGY_CLASS = '''

class ExtraTreesStrategy(SklearnClassifierStrategy):
    """Extremely randomised trees: the team's own strategy."""

    kind: ClassVar[str] = "extra_trees"
    Params: ClassVar[type[HyperParameters]] = RandomForestParams

    def _build_estimator(self, params: Any) -> Any:
        return ExtraTreesClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            random_state=params.seed,
        )


STRATEGIES = {**STRATEGIES, ExtraTreesStrategy.kind: ExtraTreesStrategy}
'''
LOCAL_RECIPE = """
# Say hello from the team's own recipes
[group('local')]
hello:
    @echo "hello from tasks/local.just"
"""
APPENDED = {
    "CHANGELOG.md": "\n- Team note: the first model shipped.\n",
    "README.md": "\n## Team notes\n\nOn call: the ML platform team.\n",
    ".gitignore": "\n# Team scratch space\n/notebooks/scratch/\n",
    "tasks/local.just": LOCAL_RECIPE,
}


def replace_once(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    assert before in text, f"{before!r} not found in {path}: update tests/test_update.py"
    path.write_text(text.replace(before, after, 1))


@dataclass(frozen=True)
class EditedUpdate:
    """The installed project after the user's edits and `just update -r 1.1.0`."""

    path: Path
    package: str
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def edited_update(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> EditedUpdate:
    project = copy_project(template_repo, tmp_path_factory.mktemp("edited") / "project", "1.0.0")
    run(["just", "install"], project)
    git_commit_all(project, "build: lock dependencies")
    package = answers_of(project)["package_name"]

    for name, addition in APPENDED.items():
        (project / name).write_text((project / name).read_text() + addition)
    loader = project / "src" / package / "data" / "loader.py"  # user-owned
    loader.write_text(loader.read_text() + "\n\n# Team: the warehouse loader lands next quarter.\n")
    strategy = project / "src" / package / "models" / "classification.py"
    replace_once(strategy, STRATEGY_IMPORT_BEFORE, STRATEGY_IMPORT_AFTER)
    strategy.write_text(strategy.read_text() + STRATEGY_CLASS)
    params = project / "params.yaml"
    replace_once(params, "kind: logistic_regression", "kind: extra_trees")
    replace_once(params, "    C: 1.0\n    max_iter: 1000\n", "    n_estimators: 100\n")
    replace_once(params, "test_size: 0.2", "test_size: 0.25")
    (project / "src" / package / "features.py").write_text(FEATURES_MODULE)
    (project / "tests" / "test_features.py").write_text(FEATURES_TEST.format(package=package))
    run(["uv", "add", "--no-sync", "packaging>=24"], project)
    git_commit_all(project, "feat: team strategy, features and notes")

    # Extra arguments reach copier: stop at 1.1.0 although 1.2.0 exists.
    result = run(["just", "update", "-r", "1.1.0"], project, timeout=2400)
    return EditedUpdate(project, package, result)


def test_user_edits_survive_and_the_template_change_lands(edited_update: EditedUpdate) -> None:
    project, package = edited_update.path, edited_update.package
    for name, addition in APPENDED.items():
        assert addition in (project / name).read_text(), f"the edit to {name} was lost"
    assert "warehouse loader" in (project / "src" / package / "data" / "loader.py").read_text()
    strategy = (project / "src" / package / "models" / "classification.py").read_text()
    assert STRATEGY_CLASS in strategy
    assert STRATEGY_IMPORT_AFTER in strategy
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["model"] == {"kind": "extra_trees", "params": {"n_estimators": 100}}
    assert params["split"]["test_size"] == 0.25
    assert (project / "src" / package / "features.py").read_text() == FEATURES_MODULE
    assert (project / "tests" / "test_features.py").is_file()
    assert "packaging>=24" in (project / "pyproject.toml").read_text()
    assert "packaging" in (project / "uv.lock").read_text()
    # The template's 1.1.0 changes, merged around the edits.
    assert answers_of(project)["_commit"] == "1.1.0"
    assert NEW_RECIPE.strip() in (project / "tasks" / "check.just").read_text()
    assert README_LINE_AFTER in (project / "README.md").read_text()
    assert PRE_COMMIT_AFTER in (project / ".pre-commit-config.yaml").read_text()
    assert PARAMS_COMMENT_AFTER in (project / "params.yaml").read_text()
    assert (project / SECURITY_FILE).is_file()
    assert not list(project.rglob("*.rej"))
    listing = run(["just", "--list"], project).stdout
    assert "hello" in listing
    assert "security" in listing


def test_update_reinstalls_and_checks_then_the_pipeline_runs(edited_update: EditedUpdate) -> None:
    output = edited_update.result.stdout + edited_update.result.stderr
    assert "Updating to template version 1.1.0" in output
    assert "uv sync --all-groups" in output  # `just install` ran
    assert "Required test coverage" in output  # `just check` ran the tests
    assert "Updated to template 1.1.0" in output
    project = edited_update.path
    git_commit_all(project, "chore: update from the template to 1.1.0")
    recipes = run(["just", "--summary"], project).stdout.split()
    run(["just", "pipeline" if "pipeline" in recipes else "train"], project, timeout=2400)
    record = json.loads((project / "artifacts" / "run.json").read_text())
    assert record["model_kind"] == "extra_trees"
    assert (project / "reports" / "metrics.json").is_file()


def test_conflicts_stop_the_update_recipe_and_nothing_is_dropped(
    edited_update: EditedUpdate,
) -> None:
    project = edited_update.path
    if git_output(project, "status", "--porcelain").strip():
        git_commit_all(project, "chore: pipeline outputs")
    params = project / "params.yaml"
    # The user tunes the very line the template changes in 1.2.0.
    replace_once(params, REGRESSION_BEFORE, "max_regression: 0.1")
    git_commit_all(project, "feat: tolerate a larger regression")

    result = run(["just", "update"], project, check=False)

    assert result.returncode != 0
    assert re.search(r"conflicts in 1 file\(s\):\s+params\.yaml", result.stderr), result.stderr
    assert "Required test coverage" not in result.stdout  # stopped before `just check`
    text = params.read_text()
    assert f"{CONFLICT_START}\n  max_regression: 0.1\n=======\n  {REGRESSION_AFTER}\n" in text
    assert CONFLICT_END in text
    # The rest of the release landed; no change hides in a .rej file.
    assert answers_of(project)["_commit"] == "1.2.0"
    assert (project / CONTRIBUTING_FILE).is_file()
    assert not list(project.rglob("*.rej"))
    assert git_output(project, "diff", "--name-only", "--diff-filter=U").split() == ["params.yaml"]
    listed = run(["just", "update-check"], project, check=False)
    assert (listed.returncode, listed.stdout.split()) == (1, ["params.yaml"])
    # A second `just update` refuses the half-merged tree instead of piling on.
    again = run(["just", "update"], project, check=False)
    assert again.returncode == 2
    assert "uncommitted changes" in again.stderr

    # Resolve as the guide says: keep our value, drop the markers, `git add`.
    merged = re.sub(
        rf"{CONFLICT_START}\n(.*?)=======\n.*?{CONFLICT_END}\n", r"\1", text, flags=re.DOTALL
    )
    params.write_text(merged)
    run(["git", "add", "params.yaml"], project)
    resolved = run(["just", "update-check"], project)
    assert "No update conflicts." in resolved.stderr
    assert yaml.safe_load(params.read_text())["gates"]["max_regression"] == 0.1
