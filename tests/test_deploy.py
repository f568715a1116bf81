"""`just deploy` in a generated project: KServe manifests, checked against real schemas.

Every manifest the tests render (staging, production, canary or not, and after
a rollback) is validated against two sets of published schemas, offline:

- the Kubernetes object schemas that kubernetes-validate ships (strict: no
  unknown fields), for the core types an InferenceService embeds (ObjectMeta,
  Container, probes, resources, security context);
- KServe's own API types from its Python SDK (PyPI ``kserve``, generated from
  the same Go types as the InferenceService CRD), for the InferenceService
  around them. Every KServe object is closed (``additionalProperties: false``),
  as kubectl's strict field validation rejects an unknown field.

``just deploy`` renders with ``kubectl kustomize``, so these tests need kubectl
(no cluster): the written kustomization must render again to ``manifests.yaml``,
and without kubectl on PATH the command must say so in one line and write
nothing. No cluster can exist here: a fake ``kubectl`` (a shell script
recording its arguments and a copy of what it was asked to apply, handing
``kustomize`` to the real kubectl) stands in for one.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectl_stub import KUBECTL, NO_KUBECTL, fake_kubectl

from conftest import InstalledProject, git_commit_all, run

pytestmark = pytest.mark.e2e

#: The Kubernetes version whose schemas the core types are checked against: the newest
#: kubernetes-validate ships, as the KServe SDK refers to recent core types (1.36's
#: PodSchedulingGroup among them).
K8S_VERSION = "1.37"
DEPLOY = Path("build") / "deploy"
HOSTILE = ("1.0.0'; touch PWNED; '", "$(touch PWNED)", "`touch PWNED`", "../../etc/passwd", "-h")
# Tools a recipe needs when PATH must not hold kubectl (uv and just come from the template's venv).
TOOLS = ("bash", "sh", "git", "env")
#: Types the KServe SDK names without generating a model for (deep inside autoScaling
#: metrics, which the manifests do not use): left unconstrained.
SDK_UNGENERATED = frozenset({"V1beta1MetricQuantity"})


# -- schemas -----------------------------------------------------------------------------


@functools.cache
def _kubernetes_definitions() -> dict[str, Any]:
    """kubernetes-validate's strict definitions for K8S_VERSION."""
    import importlib.resources

    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    schemas = folder / f"v{K8S_VERSION}.0-local-strict"
    data: dict[str, Any] = json.loads((schemas / "_definitions.json").read_text())
    return data


def _kubernetes_ref(type_name: str) -> dict[str, Any]:
    """``V1Container`` → a reference to its Kubernetes definition (io.k8s.api.core.v1.Container)."""
    match = re.fullmatch(
        r"(?:K8sIoApi(?P<group>[A-Z][a-z]+))?(?P<version>V\d\w*?)(?P<kind>[A-Z]\w*)", type_name
    )
    assert match, f"not a Kubernetes type name: {type_name}"
    suffix = f".{match['version'].lower()}.{match['kind']}"
    if match["group"]:
        suffix = f".{match['group'].lower()}{suffix}"
    definitions = _kubernetes_definitions()
    found = sorted(key for key in definitions["$defs"] if key.endswith(suffix))
    assert found, f"kubernetes-validate has no definition for {type_name}"
    core = [key for key in found if key.startswith("io.k8s.api.core.")]
    return {"$ref": f"{definitions['$id']}#/$defs/{(core or found)[0]}"}


def _sdk_schema(type_name: str, defs: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of one type of the KServe SDK (or a reference to a Kubernetes type)."""
    import kserve.models

    scalars: dict[str, dict[str, Any]] = {
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "float": {"type": "number"},
        "bool": {"type": "boolean"},
        "object": {},
        "datetime": {"type": "string"},
        "ResourceQuantity": {"type": ["string", "number"]},
    }
    if type_name in scalars:
        return scalars[type_name]
    listed = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if listed:
        return {"type": "array", "items": _sdk_schema(listed[1], defs)}
    mapped = re.fullmatch(r"(?:dict\(str, (.+)\)|Dict\[str, (.+)\])", type_name)
    if mapped:
        return {"type": "object", "additionalProperties": _sdk_schema(mapped[1] or mapped[2], defs)}
    model = getattr(kserve.models, type_name, None)
    if model is None and type_name in SDK_UNGENERATED:
        return {}
    if model is None or not model.__module__.startswith("kserve."):
        return _kubernetes_ref(type_name)
    if type_name not in defs:
        defs[type_name] = {}  # placeholder: the types are recursive
        defs[type_name] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                model.attribute_map[attribute]: _sdk_schema(kind, defs)
                for attribute, kind in model.openapi_types.items()
                if attribute != "status"  # written by the controller, never by a manifest
            },
        }
    return {"$ref": f"#/$defs/{type_name}"}


@functools.cache
def _inference_service_validator() -> Any:
    import jsonschema
    from referencing import Registry, Resource

    defs: dict[str, Any] = {}
    root = _sdk_schema("V1beta1InferenceService", defs)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": defs}
    schema["$defs"]["V1beta1InferenceService"]["required"] = [
        "apiVersion",
        "kind",
        "metadata",
        "spec",
    ]
    definitions = _kubernetes_definitions()
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _schema_errors(document: dict[str, Any]) -> list[str]:
    """Every way ``document`` breaks the published schemas (empty: valid)."""
    import kubernetes_validate

    if document["kind"] != "InferenceService":
        try:
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [f"{'.'.join(map(str, error.path))}: {error.message}"]
        return []
    assert document["apiVersion"] == "serving.kserve.io/v1beta1"
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _inference_service_validator().iter_errors(document)
    ]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def _validated(project: InstalledProject, environment: str) -> dict[str, Any]:
    """The InferenceService rendered for ``environment``, after checking it every way we can."""
    folder = project.path / DEPLOY / environment
    documents = _documents(folder / "manifests.yaml")
    for document in documents:
        assert not _schema_errors(document), _schema_errors(document)
    assert KUBECTL, NO_KUBECTL
    # The kustomization kept beside the manifests renders to them again (what `apply -k` applies).
    built = subprocess.run(
        [KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, check=True
    ).stdout
    assert [d for d in yaml.safe_load_all(built) if d] == documents
    (service,) = [d for d in documents if d["kind"] == "InferenceService"]
    return service


def test_validators_reject_what_a_cluster_would() -> None:
    """The schema checks are not vacuous: a typo, a wrong type and a bad probe all fail."""
    service: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "ns"},
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000}},
                    }
                ],
            }
        },
    }
    assert _schema_errors(service) == []
    typo = json.loads(json.dumps(service))
    typo["spec"]["predictor"]["minReplica"] = 1
    wrong_type = json.loads(json.dumps(service))
    wrong_type["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    no_port = json.loads(json.dumps(service))
    del no_port["spec"]["predictor"]["containers"][0]["readinessProbe"]["httpGet"]["port"]
    unknown_meta = json.loads(json.dumps(service))
    unknown_meta["metadata"]["label"] = {"a": "b"}
    for broken in (typo, wrong_type, no_port, unknown_meta):
        assert _schema_errors(broken), broken


# -- running `just deploy` -------------------------------------------------------------------


def _path_without_kubectl(tmp_path: Path) -> str:
    """A PATH with the tools recipes need and no kubectl (the template's venv is added first)."""
    bin_dir = tmp_path / "no-kubectl"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed on PATH"
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _no_context(tmp_path: Path) -> str:
    """A kubeconfig without a current context: the real kubectl renders, and finds no cluster."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    return str(kubeconfig)


def _just(
    project: InstalledProject, *args: str, path: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    return run(["just", *args], project.path, check=check, timeout=900, PATH=path, **env)


def _snapshot(folder: Path) -> dict[Path, bytes | None]:
    """Every file (its bytes) and folder (None) under ``folder``: what a refusal must not touch."""
    return {p: p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _lineage_sha(project: InstalledProject, version: str) -> str:
    info = json.loads(project.just("models", "info", version).stdout)
    return str(info["lineage"]["git_sha"])


def test_deploy_without_kubectl_says_so_in_one_line_and_writes_nothing(
    trained_project: InstalledProject, tmp_path: Path
) -> None:
    no_kubectl = _path_without_kubectl(tmp_path)
    before = _snapshot(trained_project.path / DEPLOY)
    result = _just(trained_project, "deploy", "1.0.0", "", "staging", path=no_kubectl, check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: kubectl")]
    assert errors == [
        "error: kubectl not found on PATH: `just deploy` renders the manifests with `kubectl "
        "kustomize` (no cluster needed); install kubectl (https://kubernetes.io/docs/tasks/tools/) "
        "and deploy again."
    ]
    assert _snapshot(trained_project.path / DEPLOY) == before


def test_deploy_renders_valid_manifests_and_says_how_to_apply_them(
    trained_project: InstalledProject, tmp_path: Path
) -> None:
    path = os.environ["PATH"]
    kubeconfig = _no_context(tmp_path)
    # 1.0.0 is the champion or the challenger (which passes the production gates): both may
    # run in staging and as a production canary.
    staging = _just(
        trained_project, "deploy", "1.0.0", "", "staging", path=path, KUBECONFIG=kubeconfig
    )
    assert (
        "kubectl has no current context: manifests written to "
        "build/deploy/staging/manifests.yaml" in staging.stdout
    )
    assert "kubectl apply -f build/deploy/staging/manifests.yaml" in staging.stdout
    canary = _just(trained_project, "deploy", "1.0.0", "25", path=path, KUBECONFIG=kubeconfig)
    assert "canary: 25% of the traffic, the previous ready revision keeps 75%" in canary.stdout

    tag = f"1.0.0-{_lineage_sha(trained_project, '1.0.0')[:7]}"
    image = f"{trained_project.just('--evaluate', 'IMAGE').stdout.strip()}:{tag}"
    for environment, percent in (("staging", None), ("production", 25)):
        service = _validated(trained_project, environment)
        assert service["metadata"]["namespace"] == f"my-model-{environment}"
        predictor = service["spec"]["predictor"]
        assert predictor["containers"][0]["image"] == image
        assert predictor.get("canaryTrafficPercent") == percent
        record = json.loads(
            (trained_project.path / DEPLOY / environment / "deployment.json").read_text()
        )
        assert record["version"] == "1.0.0"
        assert record["applied"] is False
        assert record["canary"] is (percent is not None)
        assert not Path(record["manifests"]).is_absolute()


def test_fake_cluster_is_applied_exactly_the_rendered_manifests(
    trained_project: InstalledProject, tmp_path: Path
) -> None:
    path, log = fake_kubectl(tmp_path)
    result = _just(trained_project, "deploy", "1.0.0", "", "staging", path=path)
    assert "applied with kubectl (context fake-cluster):" in result.stdout
    assert log.read_text().splitlines() == [
        "config current-context",
        "--context fake-cluster --request-timeout=60s apply -f build/deploy/staging/manifests.yaml",
    ]
    (applied,) = sorted(log.parent.glob("applied-*.yaml"))
    assert (
        applied.read_text()
        == (trained_project.path / DEPLOY / "staging" / "manifests.yaml").read_text()
    )
    record = json.loads((trained_project.path / DEPLOY / "staging" / "deployment.json").read_text())
    assert (record["applied"], record["kubectl_context"]) == (True, "fake-cluster")


def test_hostile_or_wrong_arguments_are_refused_and_change_nothing(
    trained_project: InstalledProject, tmp_path: Path
) -> None:
    path, log = fake_kubectl(tmp_path)
    before = _snapshot(trained_project.path / DEPLOY)
    attempts = [
        *((version,) for version in HOSTILE),
        ("9.9.9",),
        ("1.0.0", "0"),
        ("1.0.0", "100"),
        ("1.0.0", "$(touch PWNED)"),
        ("1.0.0", "10", "staging"),
        ("1.0.0", "", "$(touch PWNED)"),
    ]
    for attempt in attempts:
        result = _just(trained_project, "deploy", *attempt, path=path, check=False)
        assert result.returncode != 0, attempt
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors, (attempt, result.stderr)
    assert not list(trained_project.path.glob("PWNED*"))
    assert not log.exists()  # kubectl was never even asked for its context
    assert _snapshot(trained_project.path / DEPLOY) == before
    refused = _just(trained_project, "deploy", "1.0.0", "abc", path=path, check=False)
    assert "use a whole number from 1 to 99" in refused.stderr


def test_canary_promotion_and_rollback_redeploy(installed_project: Any, tmp_path: Path) -> None:
    project: InstalledProject = installed_project("defaults", "deploy")
    path, log = fake_kubectl(tmp_path)
    production = project.path / DEPLOY / "production"

    def image() -> str:
        service = _validated(project, "production")
        predictor = service["spec"]["predictor"]
        return f"{predictor['containers'][0]['image']} @ {predictor['canaryTrafficPercent']}%"

    project.just("pipeline")
    git_commit_all(project.path, "chore: record pipeline run")
    project.just("models", "promote", "1.0.0", "production", "launch")
    _just(project, "deploy", "1.0.0", path=path)
    first = image()
    assert re.fullmatch(r".*:1\.0\.0-[0-9a-f]{7} @ 100%", first), first

    project.just("pipeline", "--force")  # retrained: 1.0.1, promoted to staging by the gates
    git_commit_all(project.path, "chore: retrain")
    refused = _just(project, "deploy", "1.0.1", path=path, check=False)
    assert "production runs the champion" in refused.stderr
    # Shadow first: the champion keeps answering, 1.0.1 scores the same requests beside it.
    shadowed = _just(project, "deploy", "1.0.1", "shadow", path=path)
    assert "note: shadow: 1.0.1 scores every request's rows" in shadowed.stdout
    assert image() == first
    predictor = _validated(project, "production")["spec"]["predictor"]
    (copier,) = predictor["initContainers"]
    assert re.fullmatch(r".*:1\.0\.1-[0-9a-f]{7}", copier["image"]), copier["image"]
    assert {"name": "SHADOW_MODEL", "value": "1.0.1"} in predictor["containers"][0]["env"]
    record = json.loads((production / "deployment.json").read_text())
    assert (record["version"], record["shadow"]) == ("1.0.0", "1.0.1")
    _just(project, "deploy", "1.0.1", "10", path=path)
    assert re.fullmatch(r".*:1\.0\.1-[0-9a-f]{7} @ 10%", image())
    project.just("models", "promote", "1.0.1", "production", "canary looked good")
    _just(project, "deploy", "1.0.1", path=path)
    assert re.fullmatch(r".*:1\.0\.1-[0-9a-f]{7} @ 100%", image())

    calls = len(log.read_text().splitlines())
    rolled = run(["just", "rollback"], project.path, PATH=path)
    assert "1.0.0 is now in production (@champion)" in rolled.stdout
    assert "my-model 1.0.0 to production" in rolled.stdout
    assert image() == first  # the previous champion's image, at full traffic
    assert log.read_text().splitlines()[calls:] == [
        "config current-context",
        "--context fake-cluster --request-timeout=60s apply -f "
        "build/deploy/production/manifests.yaml",
    ]
    record = json.loads((production / "deployment.json").read_text())
    assert (record["version"], record["traffic_percent"], record["applied"]) == ("1.0.0", 100, True)
