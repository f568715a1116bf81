"""End-to-end: generate each supported answer set, install it, run its own recipes."""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from typing import Any

import pytest

from conftest import ANSWER_SETS, InstalledProject, run

pytestmark = pytest.mark.e2e

CORE_RECIPES = {
    "install",
    "check",
    "check-all",
    "format",
    "test",
    "package",
    "clean",
    "pipeline",
    "train",
    "rollback",
    "models",
}
EXPECTED_METRICS = {
    "classification": {"accuracy", "f1", "precision", "recall", "roc_auc"},
    "regression": {"r2", "rmse", "mae"},
}


@pytest.fixture(scope="module", params=ANSWER_SETS)
def project(request: pytest.FixtureRequest, installed_project: Any) -> InstalledProject:
    result: InstalledProject = installed_project(request.param)
    return result


def test_install_locks_dependencies_and_installs_hooks(project: InstalledProject) -> None:
    assert (project.path / "uv.lock").is_file()
    assert (project.path / ".venv").is_dir()
    assert (project.path / ".git" / "hooks" / "pre-commit").is_file()
    assert (project.path / ".git" / "hooks" / "commit-msg").is_file()


def test_just_lists_every_core_recipe_with_a_description(project: InstalledProject) -> None:
    listing = project.just("--list").stdout
    for recipe in CORE_RECIPES:
        line = next((row for row in listing.splitlines() if row.strip().startswith(recipe)), None)
        assert line is not None, f"recipe {recipe!r} missing from `just --list`:\n{listing}"
        assert "#" in line, f"recipe {recipe!r} has no description: {line!r}"


def test_pipeline_trains_evaluates_and_registers(project: InstalledProject) -> None:
    result = project.just("pipeline")
    for stage in ("prepare", "train", "evaluate", "register"):
        assert f"Running stage '{stage}'" in result.stdout
    written = json.loads((project.path / "reports" / "metrics.json").read_text())
    problem = project.answers.get("problem_type", "classification")
    assert set(written) == EXPECTED_METRICS[problem]
    if problem == "classification":
        assert written["accuracy"] > 0.9
    else:
        assert written["r2"] > 0.3
    registration = json.loads((project.path / "reports" / "registration.json").read_text())
    assert (registration["version"], registration["stage"]) == ("1.0.0", "staging")
    assert (project.path / "artifacts" / "model.joblib").is_file()


def test_check_passes(project: InstalledProject) -> None:
    result = project.just("check")
    assert "passed" in result.stdout
    assert "Required test coverage" in result.stdout


def test_slow_tests_pass_with_the_long_property_profile(project: InstalledProject) -> None:
    """The `slow`-marked tests, which `just check` leaves out, pass under `just test-slow`.

    Only those: every other generated test already ran in `test_check_passes`.
    """
    if project.name != "defaults":
        pytest.skip("the slow profile runs once, on the default answers")
    result = project.just("test-slow", "--no-cov", "-q", "-m", "slow")
    assert re.search(r"\b[1-9]\d* passed", result.stdout), result.stdout
    assert "failed" not in result.stdout


def test_package_builds_wheel_and_sdist(project: InstalledProject) -> None:
    project.just("package")
    wheels = list((project.path / "dist").glob("*.whl"))
    sdists = list((project.path / "dist").glob("*.tar.gz"))
    assert len(wheels) == 1
    assert len(sdists) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
    assert f"{project.package}/models/base.py" in names
    assert f"{project.package}/py.typed" in names
    with tarfile.open(sdists[0]) as sdist:
        assert any(name.endswith("/pyproject.toml") for name in sdist.getnames())


def test_commit_msg_hook_refuses_non_conventional_messages(project: InstalledProject) -> None:
    (project.path / "NOTES.md").write_text("notes\n")
    run(["git", "add", "NOTES.md"], project.path)
    refused = run(["git", "commit", "-m", "did some stuff"], project.path, check=False)
    assert refused.returncode != 0
    accepted = run(["git", "commit", "-m", "docs: add notes"], project.path, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
