"""The team stack: a generated project against a real MLflow server on PostgreSQL and S3.

``compose.yaml`` runs an MLflow tracking server on PostgreSQL with its artifacts in
MinIO. No compose tool can start containers on this machine (no Docker daemon, no
podman-compose), so the test runs the same services as processes on loopback, each on
a free port:

- a real PostgreSQL server (Debian's ``initdb`` and ``postgres``, as ``nobody`` when
  the test runs as root, since PostgreSQL refuses to run as root), password-protected
  like the stack's;
- moto's server standing in for MinIO: both speak the S3 API, and the MLflow server
  reaches either through ``MLFLOW_S3_ENDPOINT_URL`` and a key pair, as in compose;
- a real MLflow tracking server with ``--backend-store-uri postgresql+psycopg2://…
  --artifacts-destination s3://mlflow --serve-artifacts``, run from the project's
  own environment plus psycopg2 and boto3 at the versions ``infra/stack/mlflow.Dockerfile``
  pins: for the server process only, so the project's client needs nothing extra.

The project is pointed at the server with ``MLFLOW_TRACKING_URI`` alone (what
``just stack-env`` prints) and runs its lifecycle with its own recipes: pipeline,
promote, a second version, rollback, predict and export. Then the test looks behind
the server: the artifacts are objects in the bucket, the registry is rows in
PostgreSQL, and nothing fell back to the project's local ``mlflow.db``.

The compose file itself is checked against the compose-spec JSON schema (vendored by
check-jsonschema) and, where a compose tool answers, by ``compose config``; the stack
recipes are run with a stand-in compose command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from conftest import InstalledProject, free_port, git_commit_all, render, run, subprocess_env

pytestmark = pytest.mark.e2e

MOTO = "moto[server]>=5.1,<6"
BUCKET = "mlflow"  # compose.yaml's default MLFLOW_BUCKET
# Test-only credentials of throw-away servers on loopback.
PG_USER, PG_PASSWORD, PG_DATABASE = "mlflow", "team-stack-test", "mlflow"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
STARTUP_TIMEOUT = 300  # the MLflow server migrates a fresh database: about a minute here

LOCKED_MLFLOW = "from importlib.metadata import version; print(version('mlflow-skinny'))"

# Five held-out rows without their target, written as CSV by the project's own Python.
HELD_OUT_ROWS = """
import sys, pandas as pd
rows = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"]).head(5)
rows.to_csv(sys.argv[1], index=False)
"""


def _unavailable(reason: str) -> NoReturn:
    """Skip where PostgreSQL is missing; CI must run this test, so fail there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs postgresql for this test)")
    pytest.skip(reason)


def _answers(url: str) -> bool:
    """Whether an HTTP server answers ``url`` at all (any status)."""
    try:
        with urllib.request.urlopen(url, timeout=3):  # noqa: S310 (loopback URL built here)
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _wait(ready: Callable[[], bool], process: subprocess.Popen[Any], what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            state = (
                f"exited with {process.returncode}" if process.poll() is not None else "timed out"
            )
            pytest.fail(f"{what} did not start ({state}):\n{log.read_text()[-6000:]}")
        time.sleep(1)


def _start(args: list[str], log: Path, **options: Any) -> subprocess.Popen[bytes]:
    """Start a server in its own process group (``uv run`` and uvicorn start children)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **options
        )


def _stop(process: subprocess.Popen[Any], sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop a server and every process it started; kill what is still there after 30 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # children left behind by an exited leader
    process.wait(timeout=30)


def _postgres_bin() -> Path:
    """Folder of initdb/postgres: on PATH, else Debian's /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not candidates:
        _unavailable("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql)")
    return candidates[-1].parent


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server on loopback."""

    bin: Path
    port: int

    @property
    def uri(self) -> str:
        """SQLAlchemy URI as compose.yaml passes it (driver named, password inside)."""
        return f"postgresql+psycopg2://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/{PG_DATABASE}"

    def psql(self, sql: str, database: str = PG_DATABASE, **variables: str) -> list[list[str]]:
        """Rows of one statement (``:'name'`` in ``sql`` quotes a variable)."""
        args = [str(self.bin / "psql"), "--no-psqlrc", "-X", "-v", "ON_ERROR_STOP=1", "-At"]
        args += ["-F", "\t", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER]
        for name, value in variables.items():
            args += ["-v", f"{name}={value}"]
        result = subprocess.run(
            [*args, "-d", database],
            input=sql,
            env={**os.environ, "PGPASSWORD": PG_PASSWORD, "PGCONNECT_TIMEOUT": "5"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return [line.split("\t") for line in result.stdout.splitlines() if line]


def _postgres_account() -> dict[str, Any]:
    """Popen options that run PostgreSQL as ``nobody`` when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("nobody")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server in a temporary folder, on a free loopback port."""
    bin_dir = _postgres_bin()
    account = _postgres_account()
    # Not under pytest's basetemp: its folders are private to root, and nobody must
    # reach the data directory. mkdtemp's folder is 0700, then handed to that account.
    home = Path(tempfile.mkdtemp(prefix="team-stack-postgres-"))
    password_file = home / "password"
    password_file.write_text(PG_PASSWORD + "\n")
    if account:
        for path in (home, password_file):
            os.chown(path, account["user"], account["group"])
    process: subprocess.Popen[bytes] | None = None
    try:
        initdb = subprocess.run(
            [
                str(bin_dir / "initdb"),
                f"--pgdata={home / 'data'}",
                f"--username={PG_USER}",
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            **account,
        )
        assert initdb.returncode == 0, initdb.stdout + initdb.stderr
        server = Postgres(bin=bin_dir, port=free_port())
        log = home / "postgres.log"
        process = _start(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(home / "data"),
                "-h",
                "127.0.0.1",
                "-p",
                str(server.port),
                "-k",
                str(home),  # its Unix socket stays in the temporary folder
                "-c",
                "fsync=off",  # a throw-away database
            ],
            log,
            **account,
        )
        ready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(server.port)]
        _wait(
            lambda: subprocess.run(ready, check=False, timeout=30).returncode == 0,
            process,
            "PostgreSQL",
            log,
        )
        server.psql(f"CREATE DATABASE {PG_DATABASE}", database="postgres")
        yield server
    finally:
        if process is not None:
            _stop(process, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(home, ignore_errors=True)


@dataclass(frozen=True)
class ObjectStore:
    """moto's S3 API on loopback, standing in for MinIO."""

    endpoint: str

    def objects(self, bucket: str = BUCKET) -> dict[str, str]:
        """Every object in the bucket: key -> ETag (the MD5 of a single-part upload).

        moto takes unsigned list requests; reading an object would need a signature,
        and the ETag already identifies its content.
        """
        objects: dict[str, str] = {}
        token = ""
        while True:
            query = "?list-type=2" + (f"&continuation-token={token}" if token else "")
            with urllib.request.urlopen(f"{self.endpoint}/{bucket}{query}", timeout=30) as page:  # noqa: S310
                root = ET.fromstring(page.read())  # noqa: S314 (our own local server's answer)
            for entry in root.findall("{*}Contents"):
                etag = (entry.findtext("{*}ETag") or "").strip('"')
                objects[entry.findtext("{*}Key") or ""] = etag
            token = root.findtext("{*}NextContinuationToken") or ""
            if not token:
                return objects


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """moto's server with the stack's bucket created, as compose's one-shot service does."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    port = free_port()
    store = ObjectStore(endpoint=f"http://127.0.0.1:{port}")
    process = _start(
        ["uvx", "--from", MOTO, "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        log,
        env=subprocess_env(),
    )
    try:
        _wait(lambda: _answers(f"{store.endpoint}/"), process, "moto's S3 server", log)
        create = urllib.request.Request(f"{store.endpoint}/{BUCKET}", method="PUT")  # noqa: S310
        with urllib.request.urlopen(create, timeout=30) as response:  # noqa: S310
            assert response.status == 200
        yield store
    finally:
        _stop(process)


def _dockerfile_pin(project: Path, argument: str) -> str:
    text = (project / "infra" / "stack" / "mlflow.Dockerfile").read_text()
    found = re.search(rf"^ARG {argument}=(\S+)$", text, re.MULTILINE)
    assert found, f"infra/stack/mlflow.Dockerfile pins no {argument}"
    return found.group(1)


@dataclass(frozen=True)
class TrackingServer:
    """The MLflow server on PostgreSQL and S3, and the project pointed at it."""

    port: int
    project: InstalledProject
    postgres: Postgres
    store: ObjectStore


@pytest.fixture(scope="module")
def tracking_server(
    installed_project: Any,
    postgres: Postgres,
    object_store: ObjectStore,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrackingServer]:
    """``mlflow server`` from the project's environment, with the server-only drivers added."""
    project: InstalledProject = installed_project("defaults", "stack")
    workdir = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = workdir / "server.log"
    process = _start(
        [
            "uv",
            "run",
            f"--project={project.path}",
            "--frozen",
            "--no-sync",
            "--with",
            f"psycopg2-binary=={_dockerfile_pin(project.path, 'PSYCOPG2_VERSION')}",
            "--with",
            f"boto3=={_dockerfile_pin(project.path, 'BOTO3_VERSION')}",
            "mlflow",
            "server",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--backend-store-uri={postgres.uri}",
            f"--artifacts-destination=s3://{BUCKET}",
            "--serve-artifacts",
            "--workers=1",
        ],
        log,
        cwd=workdir,  # nothing the server might write lands in the project
        env=subprocess_env({"MLFLOW_S3_ENDPOINT_URL": object_store.endpoint, **S3_ENV}),
    )
    try:
        health = f"http://127.0.0.1:{port}/health"
        _wait(lambda: _healthy(health), process, "The MLflow server", log)
        yield TrackingServer(port=port, project=project, postgres=postgres, store=object_store)
    finally:
        _stop(process)


def _image(project: Path) -> str:
    found = re.search(r'^IMAGE := "(.+)"$', (project / "tasks" / "project.just").read_text(), re.M)
    assert found
    return found.group(1)


def _fake_tools(folder: Path, names: tuple[str, ...], body: str) -> str:
    """Executables that shadow ``names`` on PATH; returns that PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        tool = folder / name
        tool.write_text(f"#!/usr/bin/env bash\n{body}\n")
        tool.chmod(0o755)
    return os.pathsep.join([str(folder), os.environ.get("PATH", "")])


def test_compose_file_is_a_pinned_valid_team_stack(tmp_path: Path) -> None:
    project = render(tmp_path / "project")
    compose_file = project / "compose.yaml"
    run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(compose_file)], project)
    if (
        subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        run(["docker", "compose", "--file", str(compose_file), "config", "--quiet"], project)

    compose = yaml.safe_load(compose_file.read_text())
    services: dict[str, dict[str, Any]] = compose["services"]
    assert set(services) == {
        *("postgres", "minio", "create-buckets", "mlflow", "serving"),
        *("dask-scheduler", "dask-worker"),  # profile "dask": tests/test_dask_infra.py
    }
    for name, service in services.items():
        image = str(service["image"])
        if name == "serving":  # the tag `just docker` gives, passed in by `just stack-up`
            assert image == f"{_image(project)}:${{SERVING_TAG:-latest}}"
        elif name != "mlflow":  # mlflow's image is built from infra/stack/mlflow.Dockerfile
            repository, _, tag = image.rpartition(":")
            assert repository, f"{name}: unpinned image {image}"
            assert tag not in ("", "latest"), f"{name}: unpinned image {image}"
        if name != "create-buckets":
            assert service["healthcheck"]["test"], f"{name} has no healthcheck"
    assert services["create-buckets"]["restart"] == "no"
    assert services["mlflow"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "create-buckets": {"condition": "service_completed_successfully"},
    }
    command = services["mlflow"]["command"]
    assert "--serve-artifacts" in command
    assert "--artifacts-destination=s3://${MLFLOW_BUCKET:-mlflow}" in command
    assert any(part.startswith("--backend-store-uri=postgresql+psycopg2://") for part in command)
    assert services["mlflow"]["build"]["dockerfile"] == "mlflow.Dockerfile"
    assert (project / services["mlflow"]["build"]["context"] / "mlflow.Dockerfile").is_file()
    # Credentials only from the environment: every secret-looking value is a ${...} default.
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|_KEY|_USER", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:-[^}]*\}", str(value)), (name, key, value)
    # Named volumes only (Dask workers bind the project itself: tasks open the driver's
    # paths), and every published port on loopback.
    assert set(compose["volumes"]) == {"postgres-data", "minio-data"}
    for name, service in services.items():
        for mount in service.get("volumes", []):
            if name == "dask-worker":
                assert mount == {"type": "bind", "source": ".", "target": "${PWD}"}, mount
                continue
            assert mount.split(":", 1)[0] in compose["volumes"], mount
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


def test_stack_recipes_say_so_when_no_compose_tool_works(tmp_path: Path) -> None:
    project = render(tmp_path / "project")
    path = _fake_tools(
        tmp_path / "bin", ("docker", "podman", "docker-compose", "podman-compose"), "exit 1"
    )
    for recipe in ("stack-up", "stack-down"):
        result = run(["just", recipe], project, check=False, PATH=path)
        assert result.returncode == 2, result
        ours = [line for line in result.stderr.splitlines() if not line.startswith("error: recipe")]
        assert len(ours) == 1, result.stderr
        assert ours[0].startswith("error: no compose tool works here"), result.stderr


def test_lifecycle_on_the_team_stack(tracking_server: TrackingServer, tmp_path: Path) -> None:
    project = tracking_server.project
    postgres = tracking_server.postgres
    model_name = yaml.safe_load((project.path / "params.yaml").read_text())["registry"][
        "model_name"
    ]

    # The one variable the project needs, exactly as `just stack-env` prints it.
    printed = run(["just", "stack-env"], project.path, MLFLOW_PORT=str(tracking_server.port))
    exports = dict(re.findall(r"^export (\w+)=(\S+)$", printed.stdout, re.MULTILINE))
    assert exports == {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{tracking_server.port}"}
    uri = exports["MLFLOW_TRACKING_URI"]

    def just(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["just", *args], project.path, check=check, MLFLOW_TRACKING_URI=uri)

    def champion() -> str:
        return str(json.loads(just("models", "info", "@champion").stdout)["version"])

    just("pipeline")
    registration = json.loads((project.path / "reports" / "registration.json").read_text())
    assert (registration["version"], registration["stage"]) == ("1.0.0", "staging")
    git_commit_all(project.path, "chore: record pipeline run")
    just("models", "promote", "1.0.0", "production", "first release on the stack")
    assert champion() == "1.0.0"

    rows = tmp_path / "rows.csv"
    run(["uv", "run", "--frozen", "python", "-c", HELD_OUT_ROWS, str(rows)], project.path)
    before = json.loads(just("predict", str(rows)).stdout)["predictions"]

    # A second version: one hyper-parameter changes (MINOR), trained from a clean tree.
    params = project.path / "params.yaml"
    params.write_text(params.read_text().replace("C: 1.0", "C: 0.5", 1))
    git_commit_all(project.path, "feat: tune the model")
    just("pipeline")
    assert json.loads((project.path / "reports" / "registration.json").read_text())["version"] == (
        "1.1.0"
    )
    git_commit_all(project.path, "chore: record pipeline run")
    just("models", "promote", "1.1.0", "production", "tuned")
    assert champion() == "1.1.0"

    just("rollback")
    assert champion() == "1.0.0"
    listing = just("models", "list").stdout
    assert re.search(r"^1\.0\.0\s+\d+\s+production", listing, re.MULTILINE), listing
    assert re.search(r"^1\.1\.0\s+\d+\s+archived", listing, re.MULTILINE), listing
    assert json.loads(just("predict", str(rows)).stdout)["predictions"] == before

    # The bundle `just docker` copies into the image, exported through the server.
    just("export")
    bundle = project.path / "build" / "model"
    check = run(
        ["uv", "run", "--frozen", "python", "-m", f"{project.package}.serving", "--check"],
        project.path,
    )
    assert "verified" in check.stdout + check.stderr
    assert json.loads((bundle / "provenance.json").read_text())["semver"] == "1.0.0"

    # Behind the server: the artifacts are objects in the bucket ...
    objects = tracking_server.store.objects()
    for version in ("1.0.0", "1.1.0"):
        suffix = f"provenance/{model_name}/{version}/provenance.json"
        assert any(key.endswith(suffix) for key in objects), sorted(objects)
    mlmodels = {key: etag for key, etag in objects.items() if key.endswith("/MLmodel")}
    assert len(mlmodels) >= 2, sorted(objects)
    exported = hashlib.md5((bundle / "model" / "MLmodel").read_bytes(), usedforsecurity=False)
    assert exported.hexdigest() in mlmodels.values()
    # ... the registry is rows in PostgreSQL ...
    stages = postgres.psql(
        "SELECT s.value, t.value FROM model_version_tags s JOIN model_version_tags t"
        " ON t.name = s.name AND t.version = s.version"
        " WHERE s.name = :'model' AND s.key = 'semver' AND t.key = 'stage' ORDER BY s.value",
        model=model_name,
    )
    assert stages == [["1.0.0", "production"], ["1.1.0", "archived"]]
    champion_row = postgres.psql(
        "SELECT s.value FROM registered_model_aliases a JOIN model_version_tags s"
        " ON s.name = a.name AND s.version = a.version"
        " WHERE a.name = :'model' AND a.alias = 'champion' AND s.key = 'semver'",
        model=model_name,
    )
    assert champion_row == [["1.0.0"]]
    audit = postgres.psql(
        "SELECT count(*) FROM registered_model_tags WHERE name = :'model' AND key LIKE 'audit.%'",
        model=model_name,
    )
    assert int(audit[0][0]) >= 5  # 2 x staging, 2 x production (one archives), rollback
    # Every registry lease was released: only the model itself is registered.
    assert postgres.psql("SELECT name FROM registered_models") == [[model_name]]
    locations = postgres.psql("SELECT artifact_location FROM experiments WHERE name <> 'Default'")
    assert locations
    assert all(row[0].startswith("mlflow-artifacts:/") for row in locations)
    # ... and nothing fell back to the project's own store.
    assert not (project.path / "mlflow.db").exists()
    assert not (project.path / "mlartifacts").exists()


def test_stack_up_runs_compose_waits_for_mlflow_and_prints_the_environment(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    project = tracking_server.project
    calls = tmp_path / "compose-calls.txt"
    # A stand-in compose command: records its arguments and the variables compose.yaml
    # reads, and starts nothing; the MLflow server above answers the readiness wait.
    compose = tmp_path / "bin" / "fake-compose"
    _fake_tools(
        compose.parent,
        (compose.name,),
        f'printf "%s|MLFLOW_VERSION=%s|SERVING_TAG=%s\\n" "$*" "${{MLFLOW_VERSION:-}}"'
        f' "${{SERVING_TAG:-}}" >> "{calls}"',
    )
    image_txt = project.path / "build" / "image.txt"
    image_txt.parent.mkdir(exist_ok=True)
    image_txt.write_text(f"{_image(project.path)}:1.0.0-abc1234\n")
    try:
        port = str(tracking_server.port)
        up = run(["just", "stack-up"], project.path, COMPOSE=str(compose), MLFLOW_PORT=port)
        down = run(
            ["just", "stack-down", "--volumes"],
            project.path,
            COMPOSE=str(compose),
            MLFLOW_PORT=port,
        )
    finally:
        image_txt.unlink()
    assert f"export MLFLOW_TRACKING_URI=http://127.0.0.1:{tracking_server.port}" in up.stdout
    assert "serving: " in up.stdout
    locked = run(
        ["uv", "run", "--frozen", "python", "-c", LOCKED_MLFLOW],
        project.path,
    ).stdout.strip()
    assert calls.read_text().splitlines() == [
        f"--file compose.yaml --profile serving up --detach|MLFLOW_VERSION={locked}"
        "|SERVING_TAG=1.0.0-abc1234",
        "--file compose.yaml --profile serving down --volumes|MLFLOW_VERSION=|SERVING_TAG=",
    ]
    assert down.returncode == 0
