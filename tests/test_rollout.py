"""`just rollout` against a real Prometheus scraping real `just serve` processes.

One generated project trains three versions: the stable champion (1.0.0,
logistic regression), a healthy canary (the same model, another C) and a
slow canary (a far larger random forest). Each is served by its own
`just serve` on loopback, and a real Prometheus (Debian's `prometheus`,
installed by tasks/system-packages.sh) scrapes all three every second. The
test then plays the load balancer: while `just rollout` runs, a thread
sends prediction requests, split between the stable and the canary server
by the share the last deployment gave the canary (``deployment.json``), as
KServe splits traffic between two revisions.

Only kubectl is a stand-in: no cluster can exist here, so a fake
``kubectl`` (as in tests/test_deploy.py) answers a current context and
records what it is asked to apply, and hands ``kubectl kustomize`` to the
real kubectl, so every step's manifests are really rendered. Prometheus,
the servers, the registry (gates, audit trail) and the model card are real.
Prometheus and the servers start once for the three scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    InstalledProject,
    free_port,
    git_commit_all,
    run,
    stop_process_group,
    subprocess_env,
)

pytestmark = pytest.mark.e2e

PROMETHEUS = shutil.which("prometheus")
KUBECTL = shutil.which("kubectl")
STARTUP_SECONDS = 180
PRODUCTION = Path("build") / "deploy" / "production" / "deployment.json"
#: Short steps for the test: two judged canary steps, then the promotion.
ROLLOUT = {
    "steps": [10, 50, 100],
    "wait_seconds": 5,
    "min_requests": 15,
    "inconclusive_waits": 1,
    "on_inconclusive": "rollback",
    "selector": "",
    "objectives": {"max_error_ratio": 0.01, "max_latency_ratio": 3.0, "max_psi": 0.5},
}
#: The slow canary: a forest this large takes tens of milliseconds per row.
SLOW_MODEL = {"kind": "random_forest", "params": {"n_estimators": 800}}
ROWS = """
import json, sys, pandas as pd
rows = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"]).head(40)
print(json.dumps(rows.to_dict(orient="records")))
"""


@dataclass(frozen=True)
class Rig:
    """The project, its three servers by version, Prometheus and the fake kubectl."""

    project: InstalledProject
    servers: dict[str, str]
    prometheus: str
    path: str
    kubectl_log: Path
    rows: list[dict[str, Any]]
    healthy: str
    slow: str

    def rollout(self, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        """`just rollout ...` with the fake kubectl and this Prometheus (or ``url``)."""
        prometheus = self.prometheus if url is None else url
        command = ["just", "rollout", *args]
        return run(
            command, self.project.path, check=False, PATH=self.path, PROMETHEUS_URL=prometheus
        )

    def deployed(self) -> dict[str, Any]:
        return dict(json.loads((self.project.path / PRODUCTION).read_text()))

    def champion(self) -> str:
        return str(json.loads(self.project.just("models", "info", "@champion").stdout)["version"])

    def challenger(self, version: str) -> None:
        """Make ``version`` the challenger (a canary must be), whatever ran before."""
        info = json.loads(self.project.just("models", "info", version).stdout)
        if info["stage"] != "staging":
            self.project.just("models", "promote", version, "staging", "canary candidate")


def _edit_params(project: InstalledProject, **sections: Any) -> None:
    path = project.path / "params.yaml"
    params = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(params | sections, sort_keys=False))


def _train(project: InstalledProject, message: str) -> str:
    """Run the pipeline, commit, and return the version it registered."""
    project.just("pipeline")
    git_commit_all(project.path, message)
    report = json.loads((project.path / "reports" / "registration.json").read_text())
    return str(report["version"])


def _fake_kubectl(tmp: Path) -> tuple[str, Path]:
    """A kubectl with a current context that records its calls; kustomize is the real one."""
    assert KUBECTL, "the template suite needs kubectl: deployments render with kubectl kustomize"
    bin_dir = tmp / "fake-kubectl"
    bin_dir.mkdir()
    log = bin_dir / "calls.log"
    script = bin_dir / "kubectl"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in kustomize) exec "{KUBECTL}" "$@" ;; esac\n'
        f'printf "%s\\n" "$*" >> "{log}"\n'
        'case "$*" in\n'
        '  *"config current-context"*) echo fake-cluster ;;\n'
        '  *apply*) echo "inferenceservice.serving.kserve.io/model configured" ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}", log


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback http
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"exited with {process.returncode} before {url} answered:\n{log.read_text()}"
            )
        try:
            if _get(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {STARTUP_SECONDS} s")


def _start(args: list[str], cwd: Path, log: Path, **env: str) -> subprocess.Popen[str]:
    with log.open("w") as output:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env=subprocess_env(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def rig(installed_project: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Three versions served, scraped by Prometheus; 1.0.0 in production at full traffic."""
    if PROMETHEUS is None:
        pytest.fail("prometheus missing: run tasks/system-packages.sh")
    project: InstalledProject = installed_project("defaults", "rollout")
    tmp = tmp_path_factory.mktemp("rollout")
    _edit_params(project, rollout=ROLLOUT)
    stable = _train(project, "chore: first model, short rollout steps")
    project.just("models", "promote", stable, "production", "launch")
    healthy = _edit_and_train(project, {"kind": "logistic_regression", "params": {"C": 0.5}})
    slow = _edit_and_train(project, SLOW_MODEL)
    path, kubectl_log = _fake_kubectl(tmp)
    run(["just", "deploy", stable], project.path, PATH=path)

    processes: list[subprocess.Popen[str]] = []
    servers: dict[str, str] = {}
    try:
        # One at a time: each exports its version to build/model before loading it.
        for version in (stable, healthy, slow):
            port = free_port()
            log = tmp / f"serve-{version}.log"
            process = _start(["just", "serve", version], project.path, log, PORT=str(port))
            processes.append(process)
            servers[version] = f"http://127.0.0.1:{port}"
            _wait(f"{servers[version]}/ready", process, log)
        prometheus = _start_prometheus(tmp, servers.values())
        processes.append(prometheus[0])
        rows = json.loads(run(["uv", "run", "--frozen", "python", "-c", ROWS], project.path).stdout)
        yield Rig(project, servers, prometheus[1], path, kubectl_log, rows, healthy, slow)
    finally:
        for process in processes:
            stop_process_group(process)


def _edit_and_train(project: InstalledProject, model: dict[str, Any]) -> str:
    # The search space names the logistic regression's C: no search for the forest.
    search = {"method": "none", "space": {}} if model["kind"] != "logistic_regression" else {}
    _edit_params(project, model=model, **({"search": search} if search else {}))
    return _train(project, f"chore: train {model['kind']}")


def _start_prometheus(tmp: Path, targets: Any) -> tuple[subprocess.Popen[str], str]:
    assert PROMETHEUS
    config = tmp / "prometheus.yml"
    hosts = [target.removeprefix("http://") for target in targets]
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": "model", "static_configs": [{"targets": hosts}]}],
            }
        )
    )
    port = free_port()
    log = tmp / "prometheus.log"
    process = _start(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp,
        log,
    )
    url = f"http://127.0.0.1:{port}"
    _wait(f"{url}/-/ready", process, log)
    return process, url


@contextmanager
def traffic(rig: Rig, stable: str) -> Iterator[list[int]]:
    """Prediction requests split as the last deployment says, until the block ends.

    Yields the statuses of the answers, so the test can tell the servers answered.
    """
    done = threading.Event()
    statuses: list[int] = []

    def send() -> None:
        sent = 0
        while not done.is_set():
            record = rig.deployed()
            share = record["traffic_percent"] if record["canary"] else 100
            # Deterministic split: request n goes to the canary when n * share crosses 100.
            to_canary = (sent * share) // 100 != ((sent + 1) * share) // 100
            version = record["version"] if to_canary or not record["canary"] else stable
            body = json.dumps({"records": [rig.rows[sent % len(rig.rows)]]}).encode()
            request = urllib.request.Request(  # noqa: S310 - loopback http
                f"{rig.servers[version]}/predict",
                data=body,
                headers={"content-type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    statuses.append(int(response.status))
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
            sent += 1
            time.sleep(0.01)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        done.set()
        thread.join(timeout=60)


def _events(rig: Rig, version: str) -> list[dict[str, str]]:
    report = json.loads((rig.project.path / "build" / "rollout" / f"{version}.json").read_text())
    return list(report["events"])


def test_too_little_traffic_is_inconclusive_and_never_promotes(rig: Rig) -> None:
    rig.challenger(rig.slow)
    stable = rig.champion()
    result = rig.rollout(rig.slow)  # no traffic at all
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"rollout of {rig.slow}: inconclusive: step 1 (10%) inconclusive after 2 wait(s)" in (
        result.stdout
    )
    verdicts = [e for e in _events(rig, rig.slow) if e["action"] == "rollout-verdict"]
    assert len(verdicts) == 2  # judged, waited once more, then stopped
    assert all("inconclusive: 0 canary prediction requests" in e["detail"] for e in verdicts)
    assert (rig.deployed()["version"], rig.deployed()["traffic_percent"]) == (stable, 100)
    assert rig.champion() == stable


def test_a_slow_canary_breaks_the_latency_objective_and_is_rolled_back(rig: Rig) -> None:
    rig.challenger(rig.slow)
    stable = rig.champion()
    with traffic(rig, stable) as statuses:
        result = rig.rollout(rig.slow)
    assert result.returncode == 1, result.stdout + result.stderr
    assert set(statuses) == {200}
    events = _events(rig, rig.slow)
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
    rig.challenger(rig.healthy)
    calls = len(rig.kubectl_log.read_text().splitlines())
    with traffic(rig, rig.champion()) as statuses:
        result = rig.rollout(rig.healthy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(statuses) == {200}
    events = _events(rig, rig.healthy)
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
    assert (record["version"], record["traffic_percent"]) == (rig.healthy, 100)
    assert rig.champion() == rig.healthy
    history = rig.project.just("models", "history").stdout
    assert "rollout-verdict" in history
    assert "rollout-promoted" in history
    card = (rig.project.path / "build" / "reports" / f"model-card-{rig.healthy}.md").read_text()
    assert "## Canary rollouts" in card
    assert "promoted" in card


def test_what_cannot_start_fails_in_one_line_and_changes_nothing(rig: Rig) -> None:
    project = rig.project
    rig.challenger(rig.slow)
    history = project.just("models", "history").stdout
    deployed = (project.path / PRODUCTION).read_bytes()
    free = free_port()
    params = project.path / "params.yaml"
    original = params.read_text()
    cases: list[tuple[list[str], str | None, str]] = [
        ([rig.slow], f"http://127.0.0.1:{free}", "did not answer"),
        ([rig.slow], "prometheus:9090", "is not a Prometheus address"),
        ([rig.slow], "", "PROMETHEUS_URL is not set"),
        (["9.9.9"], None, "9.9.9"),
        ([rig.slow, "staging"], None, "canaries run in production only"),
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
        bad = rig.rollout(rig.slow)
        assert bad.returncode == 2
        assert "rollout.wait_seconds" in bad.stderr
    finally:
        params.write_text(original)
    assert project.just("models", "history").stdout == history
    assert (project.path / PRODUCTION).read_bytes() == deployed


def test_ctrl_c_mid_rollout_is_recorded_and_says_what_to_do(rig: Rig) -> None:
    rig.challenger(rig.slow)
    stable = rig.champion()
    env = subprocess_env({"PATH": rig.path, "PROMETHEUS_URL": rig.prometheus})
    process = subprocess.Popen(
        ["just", "rollout", rig.slow],
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
    events = _events(rig, rig.slow)
    assert events[-1]["action"] == "rollout-interrupted"
    assert events[-1]["detail"] == "interrupted step 1 at 10%; the canary keeps 10%"
    record = rig.deployed()
    assert (record["version"], record["traffic_percent"], record["canary"]) == (rig.slow, 10, True)
    assert "rollout-interrupted" in rig.project.just("models", "history").stdout
    # What the message says to do: all of the traffic back to the stable version.
    run(["just", "deploy", stable], rig.project.path, PATH=rig.path)
