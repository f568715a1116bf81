"""Two checkouts of one project share a real MLflow tracking server on loopback.

The server runs from the project's own environment with a SQLite backend
(PostgreSQL and an S3-compatible store come with the team stack) and stores
artifacts itself (``--artifacts-destination``), as a team server does. Both
checkouts point at it with ``MLFLOW_TRACKING_URI`` only. Concurrent
promotions and rollbacks from the two must serialise through the lease the
server arbitrates: every command either applies its change and says so, or
refuses it cleanly and changes nothing, and the audit history always replays
to the registry's current state.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import InstalledProject, free_port, git_commit_all, run, subprocess_env

pytestmark = pytest.mark.e2e

# Registers more versions of the model the pipeline trained, each from a fresh (empty) run,
# so the test has several candidates without training several times.
REGISTER_MORE = """
import json, sys
from mlflow.tracking import MlflowClient
from {package}.config import load_params
from {package}.paths import ProjectPaths
from {package}.pipeline.run_record import load_run
from {package}.registry.semver import Fingerprint
from {package}.registry.service import ModelRegistry

paths = ProjectPaths(__import__("pathlib").Path.cwd())
params = load_params(paths.params)
registry = ModelRegistry(paths, params)
trained = load_run(paths)
client = MlflowClient()
experiment = client.get_run(trained.run_id).info.experiment_id
for _ in range(int(sys.argv[1])):
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    registry.register(
        run_id=run.info.run_id,
        model_uri=trained.model_uri,
        fingerprint=Fingerprint(trained.signature_hash, trained.model_kind, trained.params_hash),
        lineage=trained.lineage,
        metrics=json.loads(paths.metrics.read_text()),
    )
"""

# Prints the registry's stages, aliases and what its audit history replays to.
STATE = """
import json
from {package}.config import load_params
from {package}.paths import ProjectPaths
from {package}.registry import audit
from {package}.registry.service import ModelRegistry

paths = ProjectPaths(__import__("pathlib").Path.cwd())
registry = ModelRegistry(paths, load_params(paths.params))
champion = registry.by_alias("champion")
print(json.dumps({{
    "stages": {{r.semver: r.stage for r in registry.versions()}},
    "champion": champion.semver if champion else None,
    "replayed": audit.replay(registry.history()),
    "reasons": [e.reason for e in registry.history()],
}}))
"""


@pytest.fixture(scope="module")
def server(installed_project: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server on loopback, started from the project's environment."""
    project: InstalledProject = installed_project("defaults", "server")
    store = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            str(project.path / ".venv" / "bin" / "mlflow"),
            "server",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--backend-store-uri=sqlite:///{store / 'mlflow.db'}",
            f"--artifacts-destination={store / 'artifacts'}",
            "--workers=1",
        ],
        cwd=store,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=(store / "server.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                health = f"{uri}/health"  # http on loopback, built above
                with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"MLflow server did not start:\n{(store / 'server.log').read_text()}")
            time.sleep(1)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=30)


def _python(project: Path, script: str, package: str, *args: str, uri: str) -> str:
    return run(
        ["uv", "run", "--frozen", "python", "-c", script.format(package=package), *args],
        project,
        MLFLOW_TRACKING_URI=uri,
    ).stdout


def test_two_checkouts_serialise_changes_through_the_server(
    installed_project: Any, server: str, tmp_path: Path
) -> None:
    first: InstalledProject = installed_project("defaults", "server")
    package = first.package
    run(["just", "pipeline"], first.path, MLFLOW_TRACKING_URI=server)
    git_commit_all(first.path, "chore: record pipeline run")
    _python(first.path, REGISTER_MORE, package, "3", uri=server)
    second = tmp_path / "second-checkout"
    run(["git", "clone", "--quiet", str(first.path), str(second)], tmp_path)
    run(["just", "install"], second)
    run(
        ["just", "models", "promote", "1.0.0", "production", "launch"],
        second,
        MLFLOW_TRACKING_URI=server,
    )

    commands = [
        (first.path, ["models", "promote", "1.0.1", "production", "from-first-a"]),
        (second, ["models", "promote", "1.0.2", "production", "from-second-a"]),
        (first.path, ["rollback", "", "from-first-rollback"]),
        (second, ["models", "promote", "1.0.3", "production", "from-second-b"]),
        (first.path, ["models", "archive", "1.0.0", "from-first-archive", "--force"]),
    ]
    processes = [
        subprocess.Popen(
            ["just", *args],
            cwd=cwd,
            env=subprocess_env({"MLFLOW_TRACKING_URI": server, "MLFLOW_CONNECT_TIMEOUT": "20"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cwd, args in commands
    ]
    outcomes = [(process, *process.communicate(timeout=600)) for process in processes]
    for process, out, err in outcomes:
        assert process.returncode in (0, 1, 2), (out, err)
        assert "Traceback" not in err, err

    state = json.loads(_python(first.path, STATE, package, uri=server))
    in_production = [version for version, stage in state["stages"].items() if stage == "production"]
    assert in_production == ([state["champion"]] if state["champion"] else [])
    assert state["replayed"] == state["stages"]
    for (_, args), (process, out, err) in zip(commands, outcomes, strict=True):
        recorded = args[-2] if args[-1] == "--force" else args[-1]
        applied = process.returncode == 0
        assert (recorded in state["reasons"]) == applied, (args, out, err, state["reasons"])


def test_an_unreachable_server_fails_within_seconds(installed_project: Any) -> None:
    project: InstalledProject = installed_project("defaults", "server")
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run(["just", "models", "list"], project.path, check=False, MLFLOW_TRACKING_URI=uri)
    assert result.returncode != 0
    assert f"{uri} is unreachable" in result.stderr
    assert time.monotonic() - started < 30  # command start-up included; the wait itself is 5 s
