"""A generated project's Dask cluster: local recipes for real, compose and operator manifests.

- ``just cluster-up 2`` / ``cluster-status`` / ``cluster-down`` run in an installed
  project: the scheduler answers, two single-threaded workers with the memory limit of
  ``compute.memory_per_task`` join and run a function of the project's package, every
  socket listens on loopback only, a second ``cluster-up`` is refused in one line, and
  ``cluster-down`` leaves no process of the cluster (nor any ``dask`` process of that
  project) behind; a second ``cluster-down``, and one over a stale record whose PID now
  belongs to another program, say so in one line, exit 0 and signal nothing.
- ``compose.yaml``'s Dask services pass the compose-spec JSON schema (the copy
  check-jsonschema vendors) and use the Dockerfile's ``worker`` target, which hadolint
  passes while the serving image stays the file's last stage.
- ``infra/dask`` (rendered by kubectl's kustomize where kubectl exists) is validated
  against the Dask Kubernetes operator's own CRD schemas. They come from the operator's
  PyPI package (``dask-kubernetes``, pinned below, installed without dependencies into
  a temporary directory by uv: the CRDs are data files of its Helm chart). Every object
  of a CRD schema is closed (``additionalProperties: false``), as kubectl's strict field
  validation rejects an unknown field, and ``metadata`` is checked against Kubernetes'
  ObjectMeta from kubernetes-validate.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import InstalledProject, free_port, render, run, subprocess_env

#: The operator release whose CRDs the manifests are checked against.
DASK_KUBERNETES = "2026.3.0"
CRD_FOLDER = "dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds"
#: The Kubernetes version whose ObjectMeta checks the manifests' metadata.
K8S_VERSION = "1.37"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
#: A slug of the longest length copier accepts, cut at a hyphen by the 40-character cap.
LONG_SLUG = "abcd-" * 12 + "abcd"
DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

# Run in the project's environment: the workers, their threads and memory limits, and a
# task that imports the project's own package on a worker.
CLUSTER_REPORT = """
import json, sys
from distributed import Client
from {package}.compute.backend import first_line
with Client(sys.argv[1], timeout=30) as client:
    workers = client.scheduler_info(n_workers=-1)["workers"]
    print(json.dumps({{
        "addresses": sorted(workers),
        "nthreads": sorted(info["nthreads"] for info in workers.values()),
        "memory_limit": sorted(info["memory_limit"] for info in workers.values()),
        "task": client.submit(first_line, ValueError("on a worker\\nsecond line")).result(),
    }}))
"""


# -- schemas -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def crds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's CRD files, from its package (uv's cache keeps repeat runs offline)."""
    target = tmp_path_factory.mktemp("dask-kubernetes")
    uv = shutil.which("uv", path=subprocess_env()["PATH"])
    assert uv, "the template's environment provides uv"
    run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(target),
            f"dask-kubernetes=={DASK_KUBERNETES}",
        ],
        target,
        timeout=300,
    )
    folder = target / CRD_FOLDER
    assert (folder / "daskcluster.yaml").is_file(), sorted(folder.parent.iterdir())
    return folder


def _closed(schema: Any) -> Any:
    """``schema`` with every object that lists its properties closed to unknown ones."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {
        # Under "properties" the keys are field names, never keywords.
        key: {name: _closed(field) for name, field in value.items()}
        if key == "properties"
        else _closed(value)
        for key, value in schema.items()
    }
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        closed["additionalProperties"] = False
    return closed


@functools.cache
def _kubernetes_definitions() -> dict[str, Any]:
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    text = (folder / f"v{K8S_VERSION}.0-local-strict" / "_definitions.json").read_text()
    definitions: dict[str, Any] = json.loads(text)
    return definitions


def _validator(crd_file: Path) -> Any:
    """A strict validator for the one version (v1) of the CRD in ``crd_file``."""
    import jsonschema
    from referencing import Registry, Resource

    crd = yaml.safe_load(crd_file.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _closed(version["schema"]["openAPIV3Schema"])
    definitions = _kubernetes_definitions()
    schema["properties"] |= {
        "apiVersion": {"const": f"{crd['spec']['group']}/v1"},
        "kind": {"const": crd["spec"]["names"]["kind"]},
        "metadata": {"$ref": f"{definitions['$id']}#/$defs/{OBJECT_META}"},
    }
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    return jsonschema.Draft202012Validator(schema, registry=registry)


@pytest.fixture(scope="session")
def schema_errors(crds: Path) -> Any:
    validators = {
        "DaskCluster": _validator(crds / "daskcluster.yaml"),
        "DaskAutoscaler": _validator(crds / "daskautoscaler.yaml"),
    }

    def errors(document: dict[str, Any]) -> list[str]:
        validator = validators[document["kind"]]
        return [
            f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(document)
        ]

    return errors


# -- the operator's manifests ----------------------------------------------------------------


@pytest.fixture(scope="module", params=["defaults", "long-slug"])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    answers = {"project_slug": LONG_SLUG} if request.param == "long-slug" else {}
    return render(tmp_path_factory.mktemp(request.param) / "project", answers)


def _manifests(project: Path) -> dict[str, dict[str, Any]]:
    """infra/dask's objects by kind: kubectl's kustomize output, else the files as written."""
    folder = project / "infra" / "dask"
    kubectl = shutil.which("kubectl")
    if kubectl:
        text = run([kubectl, "kustomize", str(folder)], project).stdout
    else:
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        text = "\n---\n".join((folder / name).read_text() for name in kustomization["resources"])
    documents = [document for document in yaml.safe_load_all(text) if document]
    by_kind = {document["kind"]: document for document in documents}
    assert sorted(by_kind) == ["DaskAutoscaler", "DaskCluster"], documents
    return by_kind


def _containers(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        role: cluster["spec"][role]["spec"]["containers"][0] for role in ("scheduler", "worker")
    }


def _memory_per_task(project: Path) -> str:
    return str(yaml.safe_load((project / "params.yaml").read_text())["compute"]["memory_per_task"])


def _bytes(quantity: str) -> int:
    """``2GiB``/``2Gi``/``2560Mi`` in bytes (the units the manifests use)."""
    found = re.fullmatch(r"(\d+)([KMG])i(?:B)?", quantity)
    assert found, quantity
    return int(found[1]) * int(1024 ** ("KMG".index(found[2]) + 1))


def _option(args: list[str], name: str) -> str:
    """The value of ``--name value`` or ``--name=value`` in a command line."""
    for index, arg in enumerate(args):
        if arg == name:
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} not in {args}")


def test_operator_manifests_match_the_crd_schemas(rendered: Path, schema_errors: Any) -> None:
    manifests = _manifests(rendered)
    for document in manifests.values():
        assert schema_errors(document) == [], document["kind"]

    cluster, autoscaler = manifests["DaskCluster"], manifests["DaskAutoscaler"]
    name = cluster["metadata"]["name"]
    # The operator names its Service <name>-scheduler: a DNS label, at most 63 characters.
    assert DNS_LABEL.fullmatch(f"{name}-scheduler"), name
    assert len(f"{name}-scheduler") <= 63, name
    assert autoscaler["spec"]["cluster"] == name
    assert cluster["spec"]["scheduler"]["service"]["selector"] == {
        "dask.org/cluster-name": name,
        "dask.org/component": "scheduler",
    }
    assert autoscaler["spec"]["minimum"] <= cluster["spec"]["worker"]["replicas"]
    assert cluster["spec"]["worker"]["replicas"] <= autoscaler["spec"]["maximum"]

    containers = _containers(cluster)
    worker_args = containers["worker"]["args"]
    assert worker_args[:2] == ["dask", "worker"]
    assert _option(worker_args, "--nthreads") == "1"
    # A worker's limit is compute.memory_per_task; its container's is a little higher, so
    # the nanny restarts a worker over the limit before the kernel kills the pod.
    memory = _option(worker_args, "--memory-limit")
    assert memory == _memory_per_task(rendered)
    limits = containers["worker"]["resources"]["limits"]
    assert _bytes(memory) < _bytes(limits["memory"])
    assert containers["scheduler"]["args"][:2] == ["dask", "scheduler"]
    ports = {port["name"]: port["containerPort"] for port in containers["scheduler"]["ports"]}
    assert ports == {"tcp-comm": 8786, "http-dashboard": 8787}
    for role, container in containers.items():
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, role
        assert cluster["spec"][role]["spec"]["securityContext"]["runAsNonRoot"] is True, role
    if shutil.which("kubectl"):  # kustomize's images transformer reaches the CRD's containers
        slug = yaml.safe_load((rendered / ".copier-answers.yml").read_text())["project_slug"]
        for container in containers.values():
            assert container["image"] == f"ghcr.io/my-org/{slug}-worker:latest"


def test_crd_validation_is_not_vacuous(schema_errors: Any) -> None:
    """A typo, a wrong type, an unknown container field and a missing bound all fail."""
    cluster: dict[str, Any] = {
        "apiVersion": "kubernetes.dask.org/v1",
        "kind": "DaskCluster",
        "metadata": {"name": "c"},
        "spec": {
            "worker": {"replicas": 1, "spec": {"containers": [{"name": "w", "image": "i"}]}},
            "scheduler": {
                "spec": {"containers": [{"name": "s", "image": "i"}]},
                "service": {"ports": [{"port": 8786, "targetPort": "tcp-comm"}]},
            },
        },
    }
    autoscaler = {
        "apiVersion": "kubernetes.dask.org/v1",
        "kind": "DaskAutoscaler",
        "metadata": {"name": "c"},
        "spec": {"cluster": "c", "minimum": 1, "maximum": 2},
    }
    assert schema_errors(cluster) == []
    assert schema_errors(autoscaler) == []
    typo = json.loads(json.dumps(cluster))
    typo["spec"]["worker"]["replica"] = 2
    wrong_type = json.loads(json.dumps(cluster))
    wrong_type["spec"]["worker"]["replicas"] = "two"
    unknown_field = json.loads(json.dumps(cluster))
    unknown_field["spec"]["worker"]["spec"]["containers"][0]["memoryLimit"] = "2Gi"
    bad_metadata = json.loads(json.dumps(cluster))
    bad_metadata["metadata"]["label"] = {"a": "b"}
    no_maximum = json.loads(json.dumps(autoscaler))
    del no_maximum["spec"]["maximum"]
    for broken in (typo, wrong_type, unknown_field, bad_metadata, no_maximum):
        assert schema_errors(broken), broken


# -- compose and the worker image -------------------------------------------------------------


def test_compose_dask_services_use_the_worker_image(tmp_path: Path) -> None:
    project = render(tmp_path / "project")
    compose_file = project / "compose.yaml"
    run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(compose_file)], project)
    services = yaml.safe_load(compose_file.read_text())["services"]
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    for service in (scheduler, worker):
        assert service["profiles"] == ["dask"]  # `just stack-up` does not build or start them
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile", "target": "worker"}
        assert service["image"] == "ghcr.io/my-org/my-model-worker:${WORKER_TAG:-latest}"
        assert service["healthcheck"]["test"][0] == "CMD"
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))
    assert scheduler["ports"] == ["127.0.0.1:${DASK_SCHEDULER_PORT:-8786}:8786"]
    assert worker["depends_on"] == {"dask-scheduler": {"condition": "service_healthy"}}
    assert "deploy" not in worker, "a fixed replica count would defeat --scale dask-worker=N"
    command = worker["command"]
    assert command[:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert _option(command, "--nthreads") == "1"
    memory = f"${{DASK_MEMORY_PER_TASK:-{_memory_per_task(project)}}}"
    assert _option(command, "--memory-limit") == memory
    # Tasks open the absolute paths the driver gives them: the project at its own path.
    assert worker["volumes"] == [{"type": "bind", "source": ".", "target": "${PWD}"}]
    assert worker["working_dir"] == "${PWD}"

    dockerfile = (project / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.MULTILINE)
    assert stages[-1] == "runtime", "a build without --target must still give the serving image"
    assert "worker" in stages
    worker_stage = dockerfile.split(" AS worker\n", 1)[1].split("\nFROM ", 1)[0]
    assert "USER 10001:10001" in worker_stage
    assert "--from=uv" not in worker_stage, "no uv in the worker's runtime"
    assert "--extra lifecycle" in dockerfile.split(" AS worker-builder\n", 1)[1]


# -- the local cluster, for real -------------------------------------------------------------


@pytest.fixture(scope="module")
def project(installed_project: Any) -> InstalledProject:
    """The project test_recipes also uses: nothing here depends on its registry's state."""
    result: InstalledProject = installed_project("defaults", "recipes")
    return result


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The recipe's own stderr line (just adds `error: recipe ... failed` after it)."""
    ours = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    ours = [line for line in ours if not line.startswith("error: recipe")]
    assert len(ours) == 1, result.stderr
    return ours[0]


def _group_members(groups: set[int]) -> list[tuple[int, str]]:
    """Live (not zombie) processes in any of the process groups ``groups``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        state, _, pgrp = text.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) in groups and state != "Z":
            found.append((int(stat.parent.name), command))
    return found


def _project_dask_processes(project: Path) -> list[tuple[int, str]]:
    """Every live process whose command line runs Dask from the project's environment."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(project / ".venv") in command and (
            "dask" in command or "multiprocessing" in command
        ):
            found.append((int(cmdline.parent.name), command))
    return found


def _listening(pids: set[int]) -> set[str]:
    """``host:port`` of every listening TCP socket the processes ``pids`` hold."""
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                # IPv4 as dotted quads (stored little-endian); any IPv6 socket as raw hex.
                host = (
                    ".".join(str(byte) for byte in reversed(bytes.fromhex(address)))
                    if table == "tcp"
                    else f"[{address}]"
                )
                found.add(f"{host}:{int(port, 16)}")
    return found


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "120"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="reads Linux's /proc")
def test_cluster_up_and_down_leave_nothing_running(
    project: InstalledProject, bystander: subprocess.Popen[bytes]
) -> None:
    records = project.path / "build" / "cluster"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    up = run(["just", "cluster-up", "2"], project.path, timeout=300, DASK_SCHEDULER_PORT=str(port))
    try:
        assert f"export DASK_SCHEDULER_ADDRESS={address}" in up.stdout.splitlines(), up.stdout
        assert (records / "address").read_text() == f"{address}\n"
        recorded = {
            path.stem: json.loads(path.read_text()) for path in sorted(records.glob("*.pid"))
        }
        assert sorted(recorded) == ["scheduler", "worker-1", "worker-2"]
        groups = {record["pid"] for record in recorded.values()}
        members = _group_members(groups)
        assert {pid for pid, _ in members} >= groups, members

        report = run(
            [
                "uv",
                "run",
                "--frozen",
                "python",
                "-c",
                CLUSTER_REPORT.format(package=project.package),
                address,
            ],
            project.path,
        )
        workers = json.loads(report.stdout)
        assert workers["nthreads"] == [1, 1]
        assert workers["memory_limit"] == [2 * 1024**3] * 2  # compute.memory_per_task: 2GiB
        assert workers["task"] == "ValueError: on a worker"
        assert all(worker.startswith("tcp://127.0.0.1:") for worker in workers["addresses"])
        sockets = _listening({pid for pid, _ in members})
        assert f"127.0.0.1:{port}" in sockets
        assert all(socket.startswith("127.0.0.1:") for socket in sockets), sockets

        status = project.just("cluster-status")
        assert status.stdout.strip() == (
            f"Dask cluster at {address}: scheduler running, 2 of 2 workers running"
        )
        refused = project.just("cluster-up", "2", check=False)
        assert refused.returncode == 2
        line = _one_line(refused)
        assert line.startswith(f"error: a Dask cluster is already running at {address}"), line
    finally:
        down = project.just("cluster-down")
    assert down.stdout.strip() == f"stopped the Dask cluster at {address}: scheduler and 2 workers"
    assert _group_members(groups) == []
    assert _project_dask_processes(project.path) == []
    assert not list(records.glob("*.pid"))
    assert not (records / "address").exists()

    again = project.just("cluster-down")
    nothing = "no Dask cluster is running (nothing alive recorded in build/cluster)"
    assert again.stdout.strip() == nothing

    # A record whose PID now belongs to another program is stale: dropped, never signalled.
    stale = {"pid": bystander.pid, "command": recorded["scheduler"]["command"]}
    (records / "scheduler.pid").write_text(json.dumps(stale))
    assert project.just("cluster-status", check=False).returncode == 1
    cleaned = project.just("cluster-down")
    assert cleaned.stdout.strip() == f"{nothing}; removed 1 stale record"
    assert bystander.poll() is None
    assert not (records / "scheduler.pid").exists()
