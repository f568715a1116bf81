"""A stable version and its canaries served, scraped by a real Prometheus, for `just rollout`.

Each version is served by its own `just serve` on loopback, and a real
Prometheus (Debian's `prometheus`, installed by tasks/system-packages.sh)
scrapes them all every second. While `just rollout` runs, :func:`traffic`
plays the load balancer: it splits prediction requests between the stable
and the canary server by the share the last deployment gave the canary
(``deployment.json``), as KServe splits traffic between two revisions.

Only kubectl is a stand-in: no cluster can exist here, so a fake
``kubectl`` (tests/kubectl_stub.py) answers a current context and
records what it is asked to apply, and hands ``kubectl kustomize`` to the
real kubectl, so every step's manifests are really rendered. Prometheus,
the servers, the registry (gates, audit trail) and the model card are real.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectl_stub import fake_kubectl

from conftest import (
    InstalledProject,
    free_port,
    git_commit_all,
    run,
    start_logged,
    stop_process_group,
)

PROMETHEUS = shutil.which("prometheus")
STARTUP_SECONDS = 180
PRODUCTION = Path("build") / "deploy" / "production" / "deployment.json"
#: Short steps for the tests: two judged canary steps, then the promotion.
ROLLOUT: dict[str, Any] = {
    "steps": [10, 50, 100],
    "wait_seconds": 5,
    "min_requests": 15,
    "inconclusive_waits": 1,
    "on_inconclusive": "rollback",
    "selector": "",
    "objectives": {"max_error_ratio": 0.01, "max_latency_ratio": 3.0, "max_psi": 0.5},
}
#: Rows per prediction request: enough predictions at a 10 % share for a regressor's
#: PSI over ten buckets (5 per bucket), in a few seconds of traffic.
ROWS_PER_REQUEST = 5
ROWS = """
import json, sys, pandas as pd
rows = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"])
print(json.dumps(rows.to_dict(orient="records")))
"""


@dataclass(frozen=True)
class Rig:
    """The project, its servers by version, Prometheus and the fake kubectl."""

    project: InstalledProject
    servers: dict[str, str]
    prometheus: str
    path: str
    kubectl_log: Path
    rows: list[dict[str, Any]]
    #: The canary versions by the role each plays in the tests ("healthy", "slow").
    canaries: dict[str, str]

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

    def rollout_under_traffic(self, version: str) -> subprocess.CompletedProcess[str]:
        """`just rollout <version>` while :func:`traffic` splits requests; every answer a 200."""
        with traffic(self, self.champion()) as statuses:
            result = self.rollout(version)
        assert set(statuses) == {200}, result.stdout + result.stderr
        return result

    def events(self, version: str) -> list[dict[str, str]]:
        """What the rollout of ``version`` recorded, step by step."""
        path = self.project.path / "build" / "rollout" / f"{version}.json"
        return list(json.loads(path.read_text())["events"])


def edit_params(project: InstalledProject, **sections: Any) -> None:
    path = project.path / "params.yaml"
    params = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(params | sections, sort_keys=False))


def train(project: InstalledProject, message: str) -> str:
    """Run the pipeline, commit, and return the version it registered."""
    project.just("pipeline")
    git_commit_all(project.path, message)
    report = json.loads((project.path / "reports" / "registration.json").read_text())
    return str(report["version"])


def train_model(project: InstalledProject, model: dict[str, Any], *, search: bool = False) -> str:
    """Train ``model`` (``search`` keeps the shipped search space, which names its params)."""
    sections: dict[str, Any] = {"model": model}
    if not search:
        sections["search"] = {"method": "none", "space": {}}
    edit_params(project, **sections)
    return train(project, f"chore: train {model['kind']}")


@contextmanager
def serving_rig(
    project: InstalledProject, tmp: Path, stable: str, canaries: dict[str, str]
) -> Iterator[Rig]:
    """Serve ``stable`` (deployed at full traffic) and every canary; Prometheus scrapes all."""
    if PROMETHEUS is None:
        pytest.fail("prometheus missing: run tasks/system-packages.sh")
    path, kubectl_log = fake_kubectl(tmp)
    run(["just", "deploy", stable], project.path, PATH=path)
    processes: list[subprocess.Popen[str]] = []
    servers: dict[str, str] = {}
    try:
        # One at a time: each exports its version to build/model before loading it.
        for version in (stable, *canaries.values()):
            port = free_port()
            log = tmp / f"serve-{version}.log"
            serve = ["just", "serve", version]
            process = start_logged(serve, project.path, log, {"PORT": str(port)})
            processes.append(process)
            servers[version] = f"http://127.0.0.1:{port}"
            _wait(f"{servers[version]}/ready", process, log)
        prometheus, url = _start_prometheus(tmp, servers.values())
        processes.append(prometheus)
        rows = json.loads(run(["uv", "run", "--frozen", "python", "-c", ROWS], project.path).stdout)
        yield Rig(project, servers, url, path, kubectl_log, rows, canaries)
    finally:
        for process in processes:
            stop_process_group(process)


@contextmanager
def traffic(rig: Rig, stable: str) -> Iterator[list[int]]:
    """Prediction requests split as the last deployment says, until the block ends.

    Each request carries rows drawn at random (seeded) from the test split, so
    both versions see the same mix whatever share the canary has. Yields the
    statuses of the answers, so the test can tell the servers answered.
    """
    done = threading.Event()
    statuses: list[int] = []
    draw = random.Random(0)  # noqa: S311 - a reproducible sample, not a secret

    def send() -> None:
        sent = 0
        while not done.is_set():
            record = rig.deployed()
            share = record["traffic_percent"] if record["canary"] else 100
            # Deterministic split: request n goes to the canary when n * share crosses 100.
            to_canary = (sent * share) // 100 != ((sent + 1) * share) // 100
            version = record["version"] if to_canary or not record["canary"] else stable
            records = draw.sample(rig.rows, ROWS_PER_REQUEST)
            body = json.dumps({"records": records}).encode()
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


def _start_prometheus(tmp: Path, targets: Iterable[str]) -> tuple[subprocess.Popen[str], str]:
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
    process = start_logged(
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
