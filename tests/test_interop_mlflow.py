"""Stock MLflow, outside the project, reads what a generated project writes.

Every command here runs from a fresh virtual environment holding MLflow (the version the
project locks) and the champion's own ``requirements.txt``, never the project's package,
and from a directory outside the project, as a teammate's notebook, the MLflow UI or a
serving platform that pulls ``models:/`` URIs would: MLflow's client, ``mlflow models
predict --env-manager uv``, ``mlflow models serve --env-manager virtualenv`` (Python from
the machine, packages from PyPI), ``mlflow models generate-dockerfile`` and ``mlflow
server``, the UI's backend. There is no container engine here: the generated Dockerfile
is read, not built.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    InstalledProject,
    free_port,
    run,
    start_logged,
    stop_process_group,
)

pytestmark = pytest.mark.e2e

# Runs in the stock environment: the champion through MLflow's own client.
LOAD_CHAMPION = """
import json, sys
from importlib.metadata import distributions
import mlflow, pandas as pd
from mlflow.tracking import MlflowClient
name, rows = sys.argv[1], sys.argv[2]
model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
predictions = model.predict(pd.read_csv(rows))["prediction"].tolist()
version = MlflowClient().get_model_version_by_alias(name, "champion")
installed = sorted(d.metadata["Name"].lower().replace("_", "-") for d in distributions())
print(json.dumps({"predictions": predictions, "tags": dict(version.tags), "installed": installed}))
"""
HELD_OUT_ROWS = """
import sys, pandas as pd
pd.read_parquet(sys.argv[1]).drop(columns=["target"]).head(5).to_csv(sys.argv[2], index=False)
"""
SERVER_SECONDS = 900  # `mlflow models serve --env-manager virtualenv` pip-installs first


@pytest.fixture(scope="module")
def project(trained_project: InstalledProject) -> InstalledProject:
    return trained_project


@pytest.fixture(scope="module")
def model_name(project: InstalledProject) -> str:
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    return str(params["registry"]["model_name"])


@pytest.fixture(scope="module")
def champion_files(project: InstalledProject, model_name: str) -> Path:
    """The champion's files, found where the store says they are (a file:// URI)."""
    database = project.path / "mlflow.db"
    with closing(sqlite3.connect(database)) as connection:
        (location,) = connection.execute(
            "SELECT v.storage_location FROM model_versions v JOIN registered_model_aliases a "
            "ON a.name = v.name AND a.version = v.version WHERE a.name = ? AND a.alias = ?",
            (model_name, "champion"),
        ).fetchone()
    assert location.startswith((project.path / "mlartifacts").resolve().as_uri() + "/")
    return Path(urllib.parse.unquote(urllib.parse.urlparse(location).path))


@pytest.fixture(scope="module")
def machine_python(project: InstalledProject) -> Path:
    """The interpreter the project's venv was made from: the Python a team's machine has."""
    config = (project.path / ".venv" / "pyvenv.cfg").read_text()
    home = next(line.split("=", 1)[1].strip() for line in config.splitlines() if "home" in line)
    return Path(home)


@pytest.fixture(scope="module")
def stock(
    project: InstalledProject,
    champion_files: Path,
    machine_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A fresh venv: MLflow as the project locks it, plus the model's requirements, nothing else."""
    lock = tomllib.loads((project.path / "uv.lock").read_text())
    mlflow_version = next(p["version"] for p in lock["package"] if p["name"] == "mlflow")
    venv = tmp_path_factory.mktemp("stock-mlflow") / "venv"
    outside = venv.parent
    run(["uv", "venv", "--quiet", "--python", str(machine_python / "python3"), str(venv)], outside)
    install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    requirements = champion_files / "requirements.txt"
    run([*install, f"mlflow=={mlflow_version}", "-r", str(requirements)], outside)
    return venv


@pytest.fixture(scope="module")
def outside(stock: Path) -> Path:
    """A working directory that is not the project (and not inside it)."""
    return stock.parent


@pytest.fixture(scope="module")
def stock_env(project: InstalledProject, machine_python: Path) -> dict[str, str]:
    """What a teammate sets: the project's store, and the machine's Python on PATH."""
    return {
        "MLFLOW_TRACKING_URI": f"sqlite:///{(project.path / 'mlflow.db').resolve()}",
        "PATH": os.pathsep.join([str(machine_python), os.environ.get("PATH", "")]),
    }


@pytest.fixture(scope="module")
def rows(stock: Path, outside: Path, project: InstalledProject) -> Path:
    csv = outside / "rows.csv"
    test_split = project.path / "data" / "prepared" / "test.parquet"
    run([str(stock / "bin" / "python"), "-c", HELD_OUT_ROWS, str(test_split), str(csv)], outside)
    return csv


@pytest.fixture(scope="module")
def expected(project: InstalledProject, rows: Path) -> list[Any]:
    """What the project itself predicts for the rows (`just predict`)."""
    predictions: list[Any] = json.loads(project.just("predict", str(rows)).stdout)["predictions"]
    return predictions


def test_logged_model_carries_no_uv_project_files(champion_files: Path) -> None:
    # MLflow's uv manager would `uv sync` this project from them and stop at its missing src/.
    files = {path.name for path in champion_files.iterdir()}
    assert {"MLmodel", "requirements.txt", "python_env.yaml"} <= files
    assert not {"uv.lock", "pyproject.toml"} & files
    requirements = (champion_files / "requirements.txt").read_text()
    assert "mlflow-skinny==" in requirements
    assert "dvc" not in requirements


def test_stock_client_loads_the_champion_outside_the_project(
    project: InstalledProject,
    stock: Path,
    outside: Path,
    stock_env: dict[str, str],
    model_name: str,
    rows: Path,
    expected: list[Any],
) -> None:
    python = str(stock / "bin" / "python")
    loaded = run(
        [python, "-c", LOAD_CHAMPION, model_name, str(rows)],
        outside,
        check=True,
        timeout=900,
        **stock_env,
    )
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert result["predictions"] == expected
    assert result["tags"]["semver"] == "1.0.0"
    assert project.package.replace("_", "-") not in result["installed"]
    assert "dvc" not in result["installed"]


def test_mlflow_models_predict_rebuilds_the_model_with_uv(
    stock: Path,
    outside: Path,
    stock_env: dict[str, str],
    model_name: str,
    rows: Path,
    expected: list[Any],
) -> None:
    output = outside / "uv-predictions.json"
    predict = [str(stock / "bin" / "mlflow"), "models", "predict", "-m", _champion(model_name)]
    options = ["-i", str(rows), "-t", "csv", "-o", str(output), "--env-manager", "uv"]
    run([*predict, *options], outside, check=True, timeout=SERVER_SECONDS, **stock_env)
    answer = json.loads(output.read_text())
    assert [row["prediction"] for row in answer["predictions"]] == expected


def test_mlflow_models_serve_rebuilds_the_model_with_virtualenv(
    stock: Path,
    outside: Path,
    stock_env: dict[str, str],
    model_name: str,
    rows: Path,
    expected: list[Any],
) -> None:
    """`mlflow models serve` builds the venv from the machine's Python (pyenv) and PyPI.

    `mlflow models predict --env-manager virtualenv` is not used: it always installs
    Python from source into a temporary pyenv root, which needs python.org.
    """
    port = free_port()
    serve = [str(stock / "bin" / "mlflow"), "models", "serve", "-m", _champion(model_name)]
    options = ["--env-manager", "virtualenv", "-h", "127.0.0.1", "-p", str(port)]
    env = {"MLFLOW_ENV_ROOT": str(outside / "mlflow-envs"), **stock_env}
    with _server([*serve, *options], outside, env) as logs:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/ping", logs)
        status, body = _request(f"{base}/invocations", rows.read_bytes(), "text/csv")
    assert status == 200, body
    assert [row["prediction"] for row in json.loads(body)["predictions"]] == expected


def test_generate_dockerfile_installs_the_logged_model(
    stock: Path, outside: Path, stock_env: dict[str, str], model_name: str, champion_files: Path
) -> None:
    target = outside / "image"
    generate = [str(stock / "bin" / "mlflow"), "models", "generate-dockerfile"]
    options = ["-m", _champion(model_name), "-d", str(target)]
    run([*generate, *options], outside, check=True, timeout=900, **stock_env)
    dockerfile = (target / "Dockerfile").read_text()
    assert "COPY model_dir /opt/ml/model" in dockerfile
    assert "_install_pyfunc_deps('/opt/ml/model'" in dockerfile
    model_dir = target / "model_dir"
    assert (model_dir / "requirements.txt").read_text() == (
        champion_files / "requirements.txt"
    ).read_text()
    assert not (model_dir / "uv.lock").exists()
    assert (model_dir / "code").is_dir()  # the package travels with the model


def test_mlflow_server_lists_the_registry_and_serves_its_artifacts(
    stock: Path,
    outside: Path,
    stock_env: dict[str, str],
    model_name: str,
    project: InstalledProject,
) -> None:
    port = free_port()
    store = stock_env["MLFLOW_TRACKING_URI"]
    server = [str(stock / "bin" / "mlflow"), "server", "--backend-store-uri", store]
    options = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with _server([*server, *options], outside, stock_env) as logs:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/health", logs)
        query = urllib.parse.urlencode({"name": model_name})
        status, body = _request(f"{base}/api/2.0/mlflow/registered-models/get?{query}")
        assert status == 200, body
        registered = json.loads(body)["registered_model"]
        champion = next(a for a in registered["aliases"] if a["alias"] == "champion")
        artifact = urllib.parse.urlencode(
            {"name": model_name, "version": champion["version"], "path": "MLmodel"}
        )
        status, body = _request(f"{base}/model-versions/get-artifact?{artifact}")
        assert status == 200, body
        assert b"python_function" in body
        status, body = _request(f"{base}/api/2.0/mlflow/experiments/search?max_results=10")
        assert status == 200, body
        locations = [e["artifact_location"] for e in json.loads(body)["experiments"]]
        assert (project.path / "mlartifacts").resolve().as_uri() in locations


def _champion(model_name: str) -> str:
    return f"models:/{model_name}@champion"


@contextmanager
def _server(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Path]:
    """Run a server in its own process group; stop the group (MLflow forks) afterwards."""
    logs = cwd / f"server-{free_port()}.log"
    process = start_logged(args, cwd, logs, env)
    try:
        yield logs
    finally:
        stop_process_group(process)


def _wait_for(url: str, logs: Path) -> None:
    deadline = time.monotonic() + SERVER_SECONDS
    while time.monotonic() < deadline:
        try:
            status, _ = _request(url)
        except OSError:
            status = 0
        if status == 200:
            return
        time.sleep(1)
    pytest.fail(f"{url} never answered 200; server output:\n{logs.read_text()[-6000:]}")


def _request(url: str, data: bytes | None = None, content_type: str = "") -> tuple[int, bytes]:
    headers = {"content-type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
