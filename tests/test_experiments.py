"""DVC's own experiment commands in a generated project: every mode runs, nothing registers.

One project of its own (its registry changes at the end, which the shared
``trained_project`` must not see), the default model with its cheapest
hyper-parameter changes. After a baseline ``just pipeline`` (1.0.0 in staging):
two queued experiments run side by side by ``dvc queue start -j 2`` (each in a
temporary copy under ``.dvc/tmp/exps`` with a venv uv makes for it), then one
in the workspace. All three are listed with their metrics by ``dvc exp show``,
each left one MLflow run tagged with its name in the project's own store, and
the registry is untouched. ``just pipeline`` then registers the workspace's
result as before, and ``dvc exp run --temp`` with the opt-in
(``-S registry.experiments=register``) registers from its temporary copy.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from typing import Any

import pytest

from conftest import InstalledProject, git_commit_all, run

pytestmark = pytest.mark.e2e

QUEUED = {"queued-c2": "2.0", "queued-c4": "4.0"}
WORKSPACE = ("workspace-c05", "0.5")
OPTED_IN = ("temp-c025", "0.25")
QUEUE_TIMEOUT = 600.0


@pytest.fixture(scope="module")
def project(installed_project: Any) -> InstalledProject:
    """The default project after one `just pipeline`: 1.0.0 holds @challenger."""
    result: InstalledProject = installed_project("defaults", "experiments")
    result.just("pipeline")
    git_commit_all(result.path, "chore: record pipeline run")
    return result


def _dvc(project: InstalledProject, *args: str, timeout: float = 900) -> str:
    return run(["uv", "run", "--frozen", "dvc", *args], project.path, timeout=timeout).stdout


def _query(project: InstalledProject, sql: str) -> list[tuple[Any, ...]]:
    """Read the project's own MLflow store (``mlflow.db``) directly: no MLflow import."""
    with closing(sqlite3.connect(project.path / "mlflow.db")) as store:
        return list(store.execute(sql))


def _runs_by_experiment(project: InstalledProject) -> dict[str, list[str]]:
    """DVC experiment name → the MLflow runs tagged with it (``dvc.exp_name``)."""
    runs: dict[str, list[str]] = {}
    for name, run_id in _query(
        project,
        "SELECT value, run_uuid FROM tags WHERE key = 'dvc.exp_name' ORDER BY value",
    ):
        runs.setdefault(str(name), []).append(str(run_id))
    return runs


def _registry(project: InstalledProject) -> tuple[list[int], int | None]:
    """Version numbers of the project's registered model, and the one @challenger holds."""
    versions = [int(row[0]) for row in _query(project, "SELECT version FROM model_versions")]
    alias = _query(
        project, "SELECT version FROM registered_model_aliases WHERE alias = 'challenger'"
    )
    return sorted(versions), (int(alias[0][0]) if alias else None)


def _wait_for_queue(project: InstalledProject, names: list[str]) -> str:
    """``dvc queue status`` once every queued experiment has finished.

    Each ``dvc`` command costs the running experiments a second of CPU, so the
    wait watches the experiments' git refs (written when one succeeds) and asks
    DVC only when they are all there, or every half minute (to see a failure).
    """
    start = asked = time.monotonic()
    status = ""
    while True:
        refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], project.path)
        finished = {ref.rsplit("/", 1)[-1] for ref in refs.stdout.split()} >= set(names)
        if finished or time.monotonic() - asked > 30:
            status = _dvc(project, "queue", "status")
            if not any(word in status for word in ("Running", "Queued")):
                return status
            asked = time.monotonic()
        if time.monotonic() - start > QUEUE_TIMEOUT:
            pytest.fail(f"queued experiments still running after {QUEUE_TIMEOUT} s:\n{status}")
        time.sleep(2)


def _experiments(project: InstalledProject) -> dict[str, dict[str, Any]]:
    """``dvc exp show --json``: experiment name → its data (params, metrics)."""
    shown = json.loads(_dvc(project, "exp", "show", "--json"))
    found: dict[str, dict[str, Any]] = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                found[rev["name"]] = rev["data"]
    return found


def test_experiments_in_every_mode_log_to_the_project_and_register_nothing(
    project: InstalledProject,
) -> None:
    before = _registry(project)
    assert before == ([1], 1)

    for name, value in QUEUED.items():
        _dvc(project, "exp", "run", "--queue", "-n", name, "-S", f"model.params.C={value}")
    try:
        _dvc(project, "queue", "start", "-j", "2")
        status = _wait_for_queue(project, list(QUEUED))
    finally:
        run(["uv", "run", "--frozen", "dvc", "queue", "stop"], project.path, check=False)
    assert status.count("Success") == len(QUEUED), status

    name, value = WORKSPACE
    ran = _dvc(project, "exp", "run", "-n", name, "-S", f"model.params.C={value}")
    assert f"DVC experiment {name}: nothing registered" in ran

    shown = _experiments(project)
    expected = {**QUEUED, WORKSPACE[0]: WORKSPACE[1]}
    for name, value in expected.items():
        data = shown[name]
        assert data["params"]["params.yaml"]["data"]["model"]["params"]["C"] == float(value)
        metrics = data["metrics"]["reports/metrics.json"]["data"]
        assert 0.9 < metrics["roc_auc"] <= 1.0, (name, metrics)
    runs = _runs_by_experiment(project)
    assert {name: len(ids) for name, ids in runs.items()} == dict.fromkeys(expected, 1)
    logged = _query(
        project,
        "SELECT t.value, m.key FROM tags t JOIN latest_metrics m ON m.run_uuid = t.run_uuid "
        "WHERE t.key = 'dvc.exp_name' AND m.key = 'roc_auc'",
    )
    assert sorted(str(row[0]) for row in logged) == sorted(expected)
    assert not list((project.path / ".dvc" / "tmp" / "exps").rglob("mlflow.db"))
    assert _registry(project) == before, "an experiment registered a version or moved @challenger"
    registration = json.loads((project.path / "reports" / "registration.json").read_text())
    assert (registration["registered"], registration["experiment"]) == (False, WORKSPACE[0])
    assert _dvc(project, "status").strip() == "Data and pipelines are up to date."

    # On the branch, the pipeline registers what the workspace holds, as before: here through
    # `just repro` (plain `dvc repro`, what the model-release workflow runs), for which nothing
    # is stale; `just pipeline` makes the same decision in-process (a generated-project test).
    piped = project.just("repro")
    assert " 1.1.0 (minor); in staging (@challenger)" in piped.stdout
    assert _registry(project) == ([1, 2], 2)
    git_commit_all(project.path, "feat: C=0.5 from an experiment")

    # The opt-in registers, here from a temporary copy, into the project's registry.
    name, value = OPTED_IN
    _dvc(
        project,
        "exp",
        "run",
        "--temp",
        "-n",
        name,
        "-S",
        f"model.params.C={value}",
        "-S",
        "registry.experiments=register",
    )
    assert _registry(project) == ([1, 2, 3], 3)
    assert len(_runs_by_experiment(project)[name]) == 1
    (version_run,) = _query(project, "SELECT run_id FROM model_versions WHERE version = 3")
    assert [str(version_run[0])] == _runs_by_experiment(project)[name]
    assert f"C: {WORKSPACE[1]}" in (project.path / "params.yaml").read_text()  # not the copy's
    # The stages' `uv run --no-dev --extra lifecycle` left the project's own tools installed.
    for tool in ("ruff", "mypy", "pytest", "dvc", "mlflow"):
        assert (project.path / ".venv" / "bin" / tool).exists(), tool
