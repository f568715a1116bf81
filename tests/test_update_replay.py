"""Replay the template's real history: projects from past releases update to the working tree.

The template repository is rebuilt from this repository's own history with
every release of ``releases.py`` tagged at its commit, and the working tree on
top as the next release (``template_versions.build_release_history``). For
each of the most recent releases one project is generated, installed and
edited the way a team would (params, a strategy of its own, a local recipe,
``uv add rich``, a README section, a module with its test). Then, on that one
project:

1. the release's own template-update workflow runs locally (its shell steps,
   with ``gh`` stubbed and a bare repository as ``origin``) and must open a
   pull request that lists every file left with conflict markers; for this
   run only, the team has also added a row where the working tree added one
   to the README's layout table, so there is a conflict to list;
2. back on the default branch, the release's own ``just update -r <next>``
   (the recipe as it was, already in memory when copier rewrites the project)
   must exit 0 after ``just install`` and ``just check``, or stop on a clean
   list of conflicts that ``scripts/template-update.sh post-update`` finishes;
3. every edit survives and ``just pipeline`` trains the team's strategy.

The newest project then goes one release further, to a synthetic release that
changes lines the team changed too, in ``params.yaml`` and in the
``justfile``: the update stops, names both files, and says how to continue
without `just`, which cannot parse a justfile with conflict markers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from releases import NEXT_VERSION, Release, replayed
from template_versions import build_release_history, tag_release

from conftest import git_commit_all, render, run

pytestmark = pytest.mark.update

MARKERS = re.compile(r"^(<<<<<<< before updating|>>>>>>> after updating)$", re.MULTILINE)
CONFLICT_BLOCK = re.compile(
    r"^<<<<<<< before updating\n(.*?)^=======\n.*?^>>>>>>> after updating\n",
    re.MULTILINE | re.DOTALL,
)
WORKFLOW = Path(".github/workflows/template-update.yml")
SCRIPT = "scripts/template-update.sh"
IGNORED_PARTS = {".git", ".venv", "__pycache__", ".ruff_cache", ".mypy_cache", ".dvc"}

# -- The team's edits -------------------------------------------------------------------------

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
README_SECTION = "\n## Team notes\n\nOn call: the ML platform team. Dashboards live in Grafana.\n"
README_TABLE_END = "| `justfile`, `tasks/*.just` | task runner | template |\n"
README_TEAM_ROW = "| `features.py` | the team's feature engineering | you |\n"
PARAMS_EDITS = (
    ("kind: logistic_regression", "kind: extra_trees"),
    ("    C: 1.0\n    max_iter: 1000\n", "    n_estimators: 50\n"),
    ("test_size: 0.2", "test_size: 0.25"),
)

# -- The synthetic release after the working tree, and the team's edits on the same lines ----

BEYOND_VERSION = f"{NEXT_VERSION}.post1"
REGRESSION_LINE = "max_regression: 0.05"
REGRESSION_TEMPLATE = "max_regression: 0.03"
REGRESSION_TEAM = "max_regression: 0.1"
JUSTFILE_LINE = "# List every recipe\n"
JUSTFILE_TEMPLATE = "# List every recipe, grouped, with its one-line description\n"
JUSTFILE_TEAM = "# List every recipe (the team's recipes are in tasks/local.just)\n"


def replace_once(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    assert before in text, f"{before!r} not found in {path}: update tests/test_update_replay.py"
    path.write_text(text.replace(before, after, 1))


def keep_ours(path: Path) -> None:
    """Resolve every conflict block in ``path`` with the team's side, as a reviewer might."""
    path.write_text(CONFLICT_BLOCK.sub(r"\1", path.read_text()))


def marked_files(project: Path) -> list[str]:
    """Files of the working tree holding copier's conflict markers."""
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file()
        and not IGNORED_PARTS.intersection(path.relative_to(project).parts)
        and MARKERS.search(path.read_text(errors="replace"))
    )


def answers_of(project: Path) -> dict[str, Any]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"


# -- The workflow, run locally ----------------------------------------------------------------

GH_STUB = """#!/usr/bin/env bash
# gh, as the template-update workflow calls it: record the call and the pull request body.
printf '%s\\n' "$*" >> "$GH_STUB_DIR/calls"
while [ $# -gt 0 ]; do
    case "$1" in
        --body-file) cat "$2" > "$GH_STUB_DIR/body"; shift ;;
        --body) printf '%s\\n' "$2" > "$GH_STUB_DIR/body"; shift ;;
    esac
    shift
done
"""
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONDITION = re.compile(r"^steps\.([\w-]+)\.outputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$")


@dataclass
class WorkflowRun:
    """What the template-update workflow did when its steps ran locally."""

    steps: list[tuple[str, subprocess.CompletedProcess[str]]] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    pr_calls: list[str] = field(default_factory=list)
    body: str = ""
    branch: str = ""
    marked_on_branch: list[str] = field(default_factory=list)

    @property
    def failed(self) -> str:
        """The output of the step that failed, or ``""``."""
        return "\n".join(
            f"step {name!r} exited {result.returncode}\n{output(result)}"
            for name, result in self.steps
            if result.returncode != 0
        )


def _expression(expression: str, outputs: dict[str, dict[str, str]]) -> str:
    known = {
        "github.token": "test-token",
        "github.event.repository.default_branch": "main",
    }
    if expression in known:
        return known[expression]
    step_output = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
    assert step_output, f"the local workflow runner does not know ${{{{ {expression} }}}}"
    return outputs.get(step_output[1], {}).get(step_output[2], "")


def _substitute(text: str, outputs: dict[str, dict[str, str]]) -> str:
    return EXPRESSION.sub(lambda match: _expression(match[1], outputs), text)


def _condition_holds(condition: str | None, outputs: dict[str, dict[str, str]]) -> bool:
    if condition is None:
        return True
    parsed = CONDITION.match(EXPRESSION.sub(r"\1", condition).strip())
    assert parsed, f"the local workflow runner cannot evaluate `if: {condition}`"
    step, name, operator, value = parsed.groups()
    actual = outputs.get(step, {}).get(name, "")
    return (actual == value) if operator == "==" else (actual != value)


def run_template_update_workflow(project: Path, scratch: Path) -> WorkflowRun:
    """Run the project's own template-update workflow, step by step, as GitHub would.

    `uses:` steps are what the checkout already is (the project, with full
    history) and what the machine has (uv); `run:` steps run with `bash -e`
    like GitHub's default shell. ``origin`` is a bare clone; ``gh`` records
    its calls. Afterwards the project is back on ``main``.
    """
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    (job,) = workflow["jobs"].values()
    scratch.mkdir(parents=True)
    origin, stub_dir, runner_temp = scratch / "origin.git", scratch / "bin", scratch / "runner"
    no_hooks = scratch / "no-hooks"
    for directory in (stub_dir, runner_temp, no_hooks):
        directory.mkdir()
    (stub_dir / "gh").write_text(GH_STUB)
    (stub_dir / "gh").chmod(0o755)
    run(["git", "clone", "--quiet", "--bare", str(project), str(origin)], scratch)
    listing = ["git", "branch", "--list", "--format=%(refname:short)", "template-update/*"]
    earlier = set(run(listing, origin).stdout.split())
    run(["git", "remote", "add", "origin", str(origin)], project)
    env = {
        **{key: str(value) for key, value in job.get("env", {}).items()},
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(runner_temp),
        "GH_STUB_DIR": str(stub_dir),
        # `git config --global` in the workflow must not touch this machine's config.
        "GIT_CONFIG_GLOBAL": str(scratch / "gitconfig"),
        # A runner's fresh checkout has no git hooks: `just install` put pre-commit's here.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(no_hooks),
        "PATH": os.pathsep.join([str(stub_dir), os.environ.get("PATH", "")]),
    }
    result = WorkflowRun()
    for index, step in enumerate(job["steps"]):
        if "run" not in step or not _condition_holds(step.get("if"), result.outputs):
            continue
        name = step.get("name", f"step {index}")
        script = scratch / f"step-{index}.sh"
        script.write_text(_substitute(step["run"], result.outputs))
        github_output = scratch / f"step-{index}.output"
        github_output.touch()
        step_env = {
            key: _substitute(str(value), result.outputs)
            for key, value in step.get("env", {}).items()
        }
        completed = run(
            ["bash", "-e", str(script)],
            project,
            check=False,
            timeout=1800,
            **{**env, **step_env, "GITHUB_OUTPUT": str(github_output)},
        )
        result.steps.append((name, completed))
        if "id" in step:
            pairs = (
                line.split("=", 1) for line in github_output.read_text().splitlines() if "=" in line
            )
            result.outputs[step["id"]] = dict(pairs)
        if completed.returncode != 0:
            break
    calls = stub_dir / "calls"
    result.pr_calls = calls.read_text().splitlines() if calls.is_file() else []
    body = stub_dir / "body"
    result.body = body.read_text() if body.is_file() else ""
    created = sorted(set(run(listing, origin).stdout.split()) - earlier)
    assert len(created) <= 1, f"the workflow pushed several branches: {created}"
    result.branch = created[0] if created else ""
    if result.branch:
        marked = run(
            ["git", "grep", "-l", "-E", MARKERS.pattern, result.branch, "--"], origin, check=False
        )
        prefix = f"{result.branch}:"
        result.marked_on_branch = sorted(
            line.removeprefix(prefix) for line in marked.stdout.split()
        )
    run(["git", "switch", "--quiet", "main"], project)
    run(["git", "remote", "remove", "origin"], project)
    return result


# -- One replayed release ---------------------------------------------------------------------


@dataclass
class Replay:
    """A project generated from ``release``, edited, updated to the working tree."""

    release: Release
    path: Path
    package: str
    workflow: WorkflowRun | None = None
    readme_conflict: bool = False
    update: subprocess.CompletedProcess[str] | None = None
    conflicts: list[str] = field(default_factory=list)
    finish: subprocess.CompletedProcess[str] | None = None
    pipeline: subprocess.CompletedProcess[str] | None = None


def edit_like_a_team(project: Path, package: str) -> None:
    """The edits a team makes in its first weeks, committed."""
    params = project / "params.yaml"
    for before, after in PARAMS_EDITS:
        replace_once(params, before, after)
    strategy = project / "src" / package / "models" / "classification.py"
    replace_once(strategy, STRATEGY_IMPORT_BEFORE, STRATEGY_IMPORT_AFTER)
    strategy.write_text(strategy.read_text() + STRATEGY_CLASS)
    local = project / "tasks" / "local.just"
    local.write_text(local.read_text() + LOCAL_RECIPE)
    readme = project / "README.md"
    readme.write_text(readme.read_text() + README_SECTION)
    (project / "src" / package / "features.py").write_text(FEATURES_MODULE)
    (project / "tests" / "test_features.py").write_text(FEATURES_TEST.format(package=package))
    run(["uv", "add", "rich"], project, timeout=900)
    git_commit_all(project, "feat: team strategy, features, recipe and notes; add rich")


def replay_release(release: Release, template: Path, workdir: Path) -> Replay:
    project = render(workdir / "project", src=template, vcs_ref=release.version)
    git_commit_all(project)
    run(["just", "install"], project, timeout=1800)
    git_commit_all(project, "build: lock dependencies")
    package = answers_of(project)["package_name"]
    edit_like_a_team(project, package)
    replay = Replay(release=release, path=project, package=package)

    if (project / WORKFLOW).is_file():
        # One more team edit, for the workflow's run only: a row at the end of the README's
        # layout table, where the working tree added the update script's row. The pull request
        # must list that conflict, whatever the release's workflow calls to find it.
        readme = project / "README.md"
        replay.readme_conflict = SCRIPT not in readme.read_text()
        replace_once(readme, README_TABLE_END, README_TABLE_END + README_TEAM_ROW)
        git_commit_all(project, "docs: the team's module in the layout table")
        replay.workflow = run_template_update_workflow(project, workdir / "workflow")
        run(["git", "reset", "--quiet", "--hard", "HEAD~1"], project)
    assert not run(["git", "status", "--porcelain"], project).stdout.strip()

    if release.has_update_recipe:
        update = ["just", "update", "-r", NEXT_VERSION]
    else:  # docs/updating.md: copier by hand, then the script of the release applied
        copier = ["uvx", "copier", "update", "--defaults", "--conflict", "inline"]
        update = ["bash", "-c", f'{" ".join(copier)} -r "$1" && bash {SCRIPT} post-update', "-"]
        update.append(NEXT_VERSION)
    replay.update = run(update, project, check=False, timeout=2400)
    replay.conflicts = marked_files(project)
    if replay.conflicts:
        # Resolve as docs/updating.md says, then continue through the script, not `just`.
        for name in replay.conflicts:
            keep_ours(project / name)
        run(["git", "add", "--", *replay.conflicts], project)
        replay.finish = run(["bash", SCRIPT, "post-update"], project, check=False, timeout=2400)
        finished = replay.finish
    else:
        finished = replay.update
    if finished.returncode == 0:
        git_commit_all(project, f"chore(template): update to copier-mlops {NEXT_VERSION}")
        replay.pipeline = run(["just", "pipeline"], project, check=False, timeout=2400)
    return replay


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_release_history(tmp_path_factory.mktemp("history") / "copier-mlops")


@pytest.fixture(scope="module")
def replay(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Replay]:
    """Factory: the replay of one release, run once per module and shared by its tests."""
    done: dict[str, Replay | BaseException] = {}

    def get(version: str) -> Replay:
        if version not in done:
            (release,) = (item for item in replayed() if item.version == version)
            try:
                done[version] = replay_release(release, history, tmp_path_factory.mktemp(version))
            except BaseException as error:  # a failed set-up fails each test once, not again
                done[version] = error
                raise
        outcome = done[version]
        if isinstance(outcome, BaseException):
            pytest.fail(f"the replay of {version} failed while it was set up: {outcome}")
        return outcome

    return get


VERSIONS = [release.version for release in replayed()]


@pytest.mark.parametrize("version", VERSIONS)
def test_just_update_from_the_release_installs_and_checks(
    version: str, replay: Callable[[str], Replay]
) -> None:
    result = replay(version)
    assert result.update is not None
    text = output(result.update)
    if result.conflicts:
        # A clean stop: non-zero, every conflicted file named, nothing installed or checked.
        assert result.update.returncode != 0, text
        for name in result.conflicts:
            assert name in result.update.stderr, f"{name} not listed\n{text}"
        assert not re.search(r"\d+ passed", result.update.stdout), text
        assert result.finish is not None
        assert result.finish.returncode == 0, output(result.finish)
        text = output(result.finish)
    else:
        assert result.update.returncode == 0, text
    assert "uv sync --all-groups" in text, text  # `just install` ran
    assert re.search(r"\d+ passed", text), text  # `just check` ran the tests
    assert answers_of(result.path)["_commit"] == NEXT_VERSION
    assert not list(result.path.rglob("*.rej"))
    assert (result.path / SCRIPT).is_file()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_team_edit_survives_the_update(version: str, replay: Callable[[str], Replay]) -> None:
    result = replay(version)
    project, package = result.path, result.package
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["model"]["kind"] == "extra_trees"
    assert params["model"]["params"] == {"n_estimators": 50}
    assert params["split"]["test_size"] == 0.25
    strategy = (project / "src" / package / "models" / "classification.py").read_text()
    assert STRATEGY_CLASS in strategy
    assert STRATEGY_IMPORT_AFTER in strategy
    assert LOCAL_RECIPE in (project / "tasks" / "local.just").read_text()
    assert README_SECTION in (project / "README.md").read_text()
    assert (project / "src" / package / "features.py").read_text() == FEATURES_MODULE
    assert (project / "tests" / "test_features.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dependencies = [str(item) for item in pyproject["project"]["dependencies"]]
    assert any(re.match(r"rich\b", dependency) for dependency in dependencies), dependencies
    assert 'name = "rich"' in (project / "uv.lock").read_text()
    assert run(["just", "hello"], project).stdout.strip() == "hello from tasks/local.just"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_pipeline_trains_the_team_strategy_after_the_update(
    version: str, replay: Callable[[str], Replay]
) -> None:
    result = replay(version)
    assert result.pipeline is not None, "the update did not finish, so the pipeline never ran"
    assert result.pipeline.returncode == 0, output(result.pipeline)
    record = json.loads((result.path / "artifacts" / "run.json").read_text())
    assert record["model_kind"] == "extra_trees"
    assert (result.path / "reports" / "metrics.json").is_file()


@pytest.mark.parametrize("version", VERSIONS)
def test_the_release_workflow_opens_a_pull_request_listing_every_conflict(
    version: str, replay: Callable[[str], Replay]
) -> None:
    result = replay(version)
    workflow = result.workflow
    assert workflow is not None, f"a {version} project has no {WORKFLOW}"
    assert not workflow.failed, workflow.failed
    assert workflow.outputs["check"]["available"] == "true"
    assert workflow.branch.startswith("template-update/"), workflow.branch
    assert any(call.startswith("pr create") for call in workflow.pr_calls), workflow.pr_calls
    if result.readme_conflict:  # the release's README lacks the row the working tree added
        assert "README.md" in workflow.marked_on_branch, workflow.marked_on_branch
    if workflow.marked_on_branch:
        for name in workflow.marked_on_branch:
            assert name in workflow.body, (
                f"{name} has markers but the body omits it:\n{workflow.body}"
            )
    else:
        assert "Conflicts to resolve" not in workflow.body, workflow.body


# -- One release further: conflicts in params.yaml and in the justfile --------------------------


@dataclass
class Beyond:
    """The newest replayed project updated to a release that changes lines the team changed."""

    path: Path
    workflow: WorkflowRun
    update: subprocess.CompletedProcess[str]
    params_text: str
    just_while_broken: subprocess.CompletedProcess[str]
    scan_while_broken: subprocess.CompletedProcess[str]
    check_after_justfile: subprocess.CompletedProcess[str]
    alias_after_justfile: subprocess.CompletedProcess[str]
    update_again: subprocess.CompletedProcess[str]
    finish: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def beyond(
    replay: Callable[[str], Replay], history: Path, tmp_path_factory: pytest.TempPathFactory
) -> Beyond:
    newest = replay(VERSIONS[-1])
    if newest.pipeline is None or newest.pipeline.returncode != 0:
        pytest.fail(f"the replay of {VERSIONS[-1]} did not finish, so it cannot update further")
    project = newest.path
    workdir = tmp_path_factory.mktemp("beyond")

    # The template moves on: a clone of the history with one more release on top.
    template = workdir / "copier-mlops"
    run(["git", "clone", "--quiet", str(history), str(template)], workdir)
    replace_once(template / "template" / "params.yaml.jinja", REGRESSION_LINE, REGRESSION_TEMPLATE)
    replace_once(template / "template" / "justfile", JUSTFILE_LINE, JUSTFILE_TEMPLATE)
    tag_release(template, BEYOND_VERSION)

    # The team tuned the same lines; the template's new home is recorded (the one hand edit
    # the answers file gets, docs/updating.md).
    replace_once(project / "params.yaml", REGRESSION_LINE, REGRESSION_TEAM)
    replace_once(project / "justfile", JUSTFILE_LINE, JUSTFILE_TEAM)
    answers = project / ".copier-answers.yml"
    answers.write_text(
        re.sub(r"(?m)^_src_path: .*$", f"_src_path: {template}", answers.read_text())
    )
    git_commit_all(project, "feat: tolerate a larger regression; our own justfile note")

    workflow = run_template_update_workflow(project, workdir / "workflow")
    update = run(["just", "update"], project, check=False, timeout=2400)
    params_text = (project / "params.yaml").read_text()
    just_while_broken = run(["just", "update-check"], project, check=False)
    scan_while_broken = run(["bash", SCRIPT, "conflicts"], project, check=False)

    keep_ours(project / "justfile")
    run(["git", "add", "justfile"], project)
    check_after_justfile = run(["just", "update-check"], project, check=False)
    alias_after_justfile = run(["just", "update-conflicts"], project, check=False)
    update_again = run(["just", "update"], project, check=False)

    keep_ours(project / "params.yaml")
    run(["git", "add", "params.yaml"], project)
    finish = run(["bash", SCRIPT, "post-update"], project, check=False, timeout=2400)
    return Beyond(
        project,
        workflow,
        update,
        params_text,
        just_while_broken,
        scan_while_broken,
        check_after_justfile,
        alias_after_justfile,
        update_again,
        finish,
    )


def test_a_conflicted_justfile_stops_the_update_and_says_how_to_go_on_without_just(
    beyond: Beyond,
) -> None:
    update = beyond.update
    assert update.returncode == 1, output(update)
    listed = re.search(r"conflicts in 2 file\(s\):\n  justfile\n  params\.yaml\n", update.stderr)
    assert listed, output(update)
    assert "'just' cannot read any recipe" in update.stderr
    assert f"bash {SCRIPT} post-update" in update.stderr
    assert f"bash {SCRIPT} conflicts" in update.stderr
    assert not re.search(r"\d+ passed", update.stdout)  # stopped before `just check`
    assert (
        f"<<<<<<< before updating\n  {REGRESSION_TEAM}\n=======\n  {REGRESSION_TEMPLATE}\n"
        ">>>>>>> after updating\n"
    ) in beyond.params_text
    assert answers_of(beyond.path)["_commit"] == BEYOND_VERSION
    assert not list(beyond.path.rglob("*.rej"))
    # `just` itself cannot parse the justfile now; the script lists without it.
    assert beyond.just_while_broken.returncode != 0
    scan = beyond.scan_while_broken
    assert (scan.returncode, scan.stdout.split()) == (1, ["justfile", "params.yaml"])


def test_with_the_justfile_resolved_the_recipes_and_old_names_list_the_rest(
    beyond: Beyond,
) -> None:
    for listed in (beyond.check_after_justfile, beyond.alias_after_justfile):
        assert (listed.returncode, listed.stdout.split()) == (1, ["params.yaml"]), output(listed)
    # A second `just update` refuses the half-merged tree instead of piling on.
    assert beyond.update_again.returncode == 2
    assert "uncommitted changes" in beyond.update_again.stderr


def test_post_update_finishes_the_update_once_conflicts_are_resolved(beyond: Beyond) -> None:
    finish = beyond.finish
    assert finish.returncode == 0, output(finish)
    assert "uv sync --all-groups" in finish.stdout + finish.stderr
    assert re.search(r"\b[1-9]\d* passed", finish.stdout), output(finish)  # `just check` ran
    assert f"Updated to template {BEYOND_VERSION}" in finish.stdout
    params = yaml.safe_load((beyond.path / "params.yaml").read_text())
    assert params["gates"]["max_regression"] == 0.1
    assert JUSTFILE_TEAM in (beyond.path / "justfile").read_text()
    assert not marked_files(beyond.path)


def test_the_workflow_lists_a_conflicted_justfile_and_the_way_on_without_just(
    beyond: Beyond,
) -> None:
    workflow = beyond.workflow
    assert not workflow.failed, workflow.failed
    assert workflow.branch == f"template-update/{BEYOND_VERSION}"
    assert workflow.marked_on_branch == ["justfile", "params.yaml"]
    assert "- `justfile`\n- `params.yaml`\n" in workflow.body
    assert "`just` cannot read any recipe" in workflow.body
    assert f"bash {SCRIPT} post-update" in workflow.body
    assert any(call.startswith("pr create") for call in workflow.pr_calls), workflow.pr_calls
