"""``just retrain`` end to end: a forced retrain reaches staging with its reason; cooldown holds.

The project is its own (not the shared ``trained_project``): a retrain reruns
the whole pipeline and adds a version, which read-only tests must not see.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from conftest import InstalledProject, git_commit_all, subprocess_env

pytestmark = pytest.mark.e2e

REASON = "supplier changed the sensor $(touch PWNED) `id`"


@pytest.fixture(scope="module")
def project(installed_project: Any) -> InstalledProject:
    """The default project after `just pipeline`, with 1.0.0 promoted to production."""
    result: InstalledProject = installed_project("defaults", "retrain")
    result.just("pipeline")
    git_commit_all(result.path, "chore: record pipeline run")
    result.just("models", "promote", "1.0.0", "production", "first release")
    return result


def _info(project: InstalledProject, ref: str) -> dict[str, Any]:
    return dict(json.loads(project.just("models", "info", ref).stdout))


def test_forced_retrain_then_the_cooldown(project: InstalledProject) -> None:
    # Two forced retrains started together: one retrains, the other sees it and stands back.
    command = ["just", "retrain", "--force", "--reason", REASON]
    twin = subprocess.Popen(
        command, cwd=project.path, env=subprocess_env(), stdout=subprocess.PIPE, text=True
    )
    first = project.just(*command[1:])
    second_out, _ = twin.communicate(timeout=900)
    assert twin.returncode == 0, second_out
    outputs = sorted([first.stdout, second_out], key=lambda out: "retrained" not in out)
    forced, stood_back = outputs
    assert stood_back.startswith("not retraining: a retrain (forced) started at"), outputs
    assert "is still running" in stood_back

    assert f" 1.0.1: forced: {REASON}\n" in forced
    assert "1.0.1 is now in staging" in forced
    info = _info(project, "1.0.1")
    assert info["stage"] == "staging"
    assert info["tags"]["retrain.trigger"] == "forced"
    assert info["tags"]["retrain.reason"] == f"forced: {REASON}"
    promoted = info["history"][-1]
    assert (promoted["action"], promoted["to_stage"]) == ("promote", "staging")
    assert promoted["reason"] == f"retrain: forced: {REASON}"
    assert not list(project.path.glob("PWNED*"))

    # Make the schedule due a second after any retrain: only the cooldown can hold it now.
    params = project.path / "params.yaml"
    params.write_text(params.read_text().replace("max_age_days: 30", "max_age_days: 0.00001"))
    held = project.just("retrain")

    assert held.stdout.count("\n") == 1
    assert held.stdout.startswith("not retraining: schedule: model is 0.0 days old")
    assert "(cooldown)" in held.stdout
    assert _info(project, "@challenger")["version"] == "1.0.1"
    assert _info(project, "@champion")["version"] == "1.0.0"
    listing = project.just("models", "list").stdout
    assert "1.0.2" not in listing


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.csv"], "missing.csv: file not found"),
        (["--force"], "A forced retrain needs its reason"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    project: InstalledProject, arguments: list[str], message: str
) -> None:
    before = project.just("models", "history").stdout
    refused = project.just("retrain", *arguments, check=False)

    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0].startswith(f"error: {message}")
    assert project.just("models", "history").stdout == before
