"""`just rollout` against a real Prometheus scraping real `just serve` processes.

One generated project trains three versions: the stable champion (1.0.0,
logistic regression), a healthy canary (the same model, another C) and a
slow canary (a far larger random forest), served and scraped as
tests/rollout_rig.py describes (only kubectl is a stand-in there: no
cluster can exist here). Prometheus and the servers start once for every
scenario.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from rollout_rig import (
    PRODUCTION,
    ROLLOUT,
    Rig,
    edit_params,
    serving_rig,
    train,
    train_model,
)

from conftest import InstalledProject, free_port, run, stop_process_group, subprocess_env

pytestmark = pytest.mark.e2e

#: The slow canary: a forest this large takes tens of milliseconds per row.
SLOW_MODEL = {"kind": "random_forest", "params": {"n_estimators": 800}}


@pytest.fixture(scope="module")
def rig(installed_project: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Three versions served, scraped by Prometheus; 1.0.0 in production at full traffic."""
    project: InstalledProject = installed_project("defaults", "rollout")
    edit_params(project, rollout=ROLLOUT)
    stable = train(project, "chore: first model, short rollout steps")
    project.just("models", "promote", stable, "production", "launch")
    # The shipped search space names the logistic regression's C; the forest has none.
    healthy = {"kind": "logistic_regression", "params": {"C": 0.5}}
    canaries = {
        "healthy": train_model(project, healthy, search=True),
        "slow": train_model(project, SLOW_MODEL),
    }
    with serving_rig(project, tmp_path_factory.mktemp("rollout"), stable, canaries) as served:
        yield served


def test_too_little_traffic_is_inconclusive_and_never_promotes(rig: Rig) -> None:
    slow = rig.canaries["slow"]
    rig.challenger(slow)
    stable = rig.champion()
    result = rig.rollout(slow)  # no traffic at all
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"rollout of {slow}: inconclusive: step 1 (10%) inconclusive after 2 wait(s)" in (
        result.stdout
    )
    verdicts = [e for e in rig.events(slow) if e["action"] == "rollout-verdict"]
    assert len(verdicts) == 2  # judged, waited once more, then stopped
    assert all("inconclusive: 0 canary prediction requests" in e["detail"] for e in verdicts)
    assert (rig.deployed()["version"], rig.deployed()["traffic_percent"]) == (stable, 100)
    assert rig.champion() == stable


def test_a_slow_canary_breaks_the_latency_objective_and_is_rolled_back(rig: Rig) -> None:
    slow = rig.canaries["slow"]
    rig.challenger(slow)
    stable = rig.champion()
    result = rig.rollout_under_traffic(slow)
    assert result.returncode == 1, result.stdout + result.stderr
    events = rig.events(slow)
    judged = [e["detail"] for e in events if e["action"] == "rollout-verdict"]
    failed = judged[-1]
    assert failed.startswith("step 1/2 at 10%"), judged  # the first step with enough traffic
    assert "fail: objective violated: latency_ratio" in failed
    assert "histogram_quantile(0.95" in failed  # the queries behind the verdict are recorded
    assert events[-1]["action"] == "rollout-rolled-back"
    record = rig.deployed()
    assert (record["version"], record["traffic_percent"], record["canary"]) == (stable, 100, False)
    assert rig.champion() == stable


def test_a_healthy_canary_walks_every_step_and_is_promoted(rig: Rig) -> None:
    healthy = rig.canaries["healthy"]
    rig.challenger(healthy)
    calls = len(rig.kubectl_log.read_text().splitlines())
    result = rig.rollout_under_traffic(healthy)
    assert result.returncode == 0, result.stdout + result.stderr
    events = rig.events(healthy)
    steps = [e["detail"] for e in events if e["action"] == "rollout-step"]
    assert steps == ["step 1/2: canary at 10% of traffic", "step 2/2: canary at 50% of traffic"]
    judged = [e["detail"] for e in events if e["action"] == "rollout-verdict"]
    assert all(": pass: every objective met" in detail for detail in judged), judged
    assert "latency_ratio" in judged[-1]
    assert "psi" in judged[-1]
    assert events[-1]["action"] == "rollout-promoted"
    # Three applies: 10%, 50%, then the promoted version at full traffic.
    log = rig.kubectl_log.read_text().splitlines()
    applies = [call for call in log[calls:] if " apply " in call]
    assert len(applies) == 3, (calls, log, result.stdout)
    record = rig.deployed()
    assert (record["version"], record["traffic_percent"]) == (healthy, 100)
    assert rig.champion() == healthy
    history = rig.project.just("models", "history").stdout
    assert "rollout-verdict" in history
    assert "rollout-promoted" in history
    card = (rig.project.path / "build" / "reports" / f"model-card-{healthy}.md").read_text()
    assert "## Canary rollouts" in card
    assert "promoted" in card


def test_what_cannot_start_fails_in_one_line_and_changes_nothing(rig: Rig) -> None:
    slow = rig.canaries["slow"]
    project = rig.project
    rig.challenger(slow)
    history = project.just("models", "history").stdout
    deployed = (project.path / PRODUCTION).read_bytes()
    free = free_port()
    params = project.path / "params.yaml"
    original = params.read_text()
    cases: list[tuple[list[str], str | None, str]] = [
        ([slow], f"http://127.0.0.1:{free}", "did not answer"),
        ([slow], "prometheus:9090", "is not a Prometheus address"),
        ([slow], "", "PROMETHEUS_URL is not set"),
        (["9.9.9"], None, "9.9.9"),
        ([slow, "staging"], None, "canaries run in production only"),
    ]
    try:
        for args, url, expected in cases:
            result = rig.rollout(*args, url=url)
            errors = [  # the command's own line; just adds one naming the recipe
                line
                for line in result.stderr.splitlines()
                if line.startswith("error:") and not line.startswith("error: recipe")
            ]
            assert result.returncode == 2, (args, url, result.stdout, result.stderr)
            assert len(errors) == 1, result.stderr
            assert expected in errors[0]
        params.write_text(original.replace("wait_seconds: 5", "wait_seconds: -1"))
        bad = rig.rollout(slow)
        assert bad.returncode == 2
        assert "rollout.wait_seconds" in bad.stderr
    finally:
        params.write_text(original)
    assert project.just("models", "history").stdout == history
    assert (project.path / PRODUCTION).read_bytes() == deployed


def test_ctrl_c_mid_rollout_is_recorded_and_says_what_to_do(rig: Rig) -> None:
    slow = rig.canaries["slow"]
    rig.challenger(slow)
    stable = rig.champion()
    env = subprocess_env({"PATH": rig.path, "PROMETHEUS_URL": rig.prometheus})
    process = subprocess.Popen(
        ["just", "rollout", slow],
        cwd=rig.project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the canary is at its first share, waiting
            if line.startswith("rollout-step:"):
                break
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
        _, err = process.communicate(timeout=120)
    finally:
        stop_process_group(process)
    assert process.returncode == 130, err
    assert "stopped at step 1: the canary keeps 10% of production traffic" in err
    assert f"`just deploy {stable}` to send all of the traffic back" in err
    events = rig.events(slow)
    assert events[-1]["action"] == "rollout-interrupted"
    assert events[-1]["detail"] == "interrupted step 1 at 10%; the canary keeps 10%"
    record = rig.deployed()
    assert (record["version"], record["traffic_percent"], record["canary"]) == (
        slow,
        10,
        True,
    )
    assert "rollout-interrupted" in rig.project.just("models", "history").stdout
    # What the message says to do: all of the traffic back to the stable version.
    run(["just", "deploy", stable], rig.project.path, PATH=rig.path)
