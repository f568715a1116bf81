"""The manifests of one deployment: a kustomization over an overlay, rendered by kubectl.

Each deployment writes a small kustomization next to its rendered output:
it points at ``infra/overlays/<environment>`` and sets only what varies per
deployment (the image tag, the model version label and, in production, the
traffic percent). ``kubectl kustomize`` renders it, so ``manifests.yaml`` is
what ``kubectl apply -k build/deploy/<environment>`` would apply, by
construction, and a review of ``infra/`` is a review of every deployment.
The rendered objects are then checked for the one thing Kustomize cannot
know: that the model server runs this deployment's image.

A shadow deployment (``just deploy <version> shadow``) keeps the champion
answering and adds the shadow version beside it, in the same pod: an init
container running the shadow version's own image copies its verified bundle
into a shared ``emptyDir`` volume, mounted read-only in the model server,
which gets ``SHADOW_MODEL`` and ``SHADOW_BUNDLE`` (see the serving app's
:mod:`~..serving.shadow`). The patch appends to the server container's
``env`` and ``volumeMounts`` and the predictor's ``volumes`` and
``initContainers`` when the overlay already has them, so an overlay's own
settings survive.
"""

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import DeploymentError, kubectl
from .output import DeployFolder
from .policy import Environment

#: The image name in ``infra/base``; every deployment replaces it with its own image.
PLACEHOLDER_IMAGE = "model-server"
FULL_TRAFFIC = 100
#: Where the shadow's bundle is copied, shared by the init container and the server.
SHADOW_VOLUME = "shadow-model"
SHADOW_MOUNT = "/app/shadow"
#: The bundle inside the image (Dockerfile: ``COPY ... /app/model``).
IMAGE_BUNDLE = "/app/model"
_KSERVE_GROUP = "serving.kserve.io"
_PREDICTOR = "/spec/predictor"


@dataclass(frozen=True)
class Plan:
    """What one deployment runs, where, with how much of the traffic."""

    environment: Environment
    version: str
    repository: str
    tag: str
    canary: int | None
    #: A version scoring the same requests off the request path (``SHADOW_MODEL``).
    shadow: "Shadow | None" = None

    @property
    def image(self) -> str:
        """The full image reference the model server runs."""
        return f"{self.repository}:{self.tag}"

    @property
    def traffic(self) -> int:
        """Percent of the environment's traffic the new revision receives."""
        return FULL_TRAFFIC if self.canary is None else self.canary


@dataclass(frozen=True)
class Shadow:
    """The shadow version of a deployment and the image its bundle comes from."""

    version: str
    image: str


def overlay_dir(root: Path, environment: Environment) -> Path:
    """``infra/overlays/<environment>`` of the project."""
    return root / "infra" / "overlays" / environment


def kustomization(
    plan: Plan, *, directory: Path, overlay: Path, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The kustomization, living in ``directory``, that deploys ``plan`` over ``overlay``.

    ``base`` is the InferenceService the overlay renders to, which a shadow's patch
    extends (lists it already has are appended to, not replaced).
    """
    data: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [Path(os.path.relpath(overlay, directory)).as_posix()],
        "labels": [{"pairs": {"app.kubernetes.io/version": plan.version}}],
        "images": [{"name": PLACEHOLDER_IMAGE, "newName": plan.repository, "newTag": plan.tag}],
    }
    operations: list[dict[str, Any]] = []
    if plan.environment == "production":
        # `add` sets the member whether or not the overlay declares it.
        operation = {"op": "add", "path": f"{_PREDICTOR}/canaryTrafficPercent"}
        operations.append(operation | {"value": plan.traffic})
    if plan.shadow is not None:
        operations.extend(shadow_operations(plan.shadow, base or {}))
    if operations:
        data["patches"] = [
            {
                "target": {"group": _KSERVE_GROUP, "kind": "InferenceService"},
                "patch": json.dumps(operations),
            }
        ]
    return data


def shadow_operations(shadow: Shadow, service: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON-patch operations that run ``shadow`` beside the server of ``service``.

    Raises:
        DeploymentError: ``service`` has no predictor container to give the shadow to.
    """
    predictor = service.get("spec", {}).get("predictor", {})
    containers = predictor.get("containers") or []
    if not containers:
        raise DeploymentError(
            "infra/ renders no InferenceService predictor container to run a shadow beside."
        )
    server = containers[0]
    bundle = f"{SHADOW_MOUNT}/model"
    copier = {
        "name": "shadow-bundle",
        "image": shadow.image,
        # The image's own bundle, copied as it is; the server verifies it against its
        # provenance digests before it scores a row.
        "command": [
            "python",
            "-c",
            f"import shutil; shutil.copytree({IMAGE_BUNDLE!r}, {bundle!r})",
        ],
        "volumeMounts": [{"name": SHADOW_VOLUME, "mountPath": SHADOW_MOUNT}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    }
    if "securityContext" in server:
        copier["securityContext"] = server["securityContext"]
    environment = [
        {"name": "SHADOW_MODEL", "value": shadow.version},
        {"name": "SHADOW_BUNDLE", "value": bundle},
    ]
    mount = {"name": SHADOW_VOLUME, "mountPath": SHADOW_MOUNT, "readOnly": True}
    volume = {"name": SHADOW_VOLUME, "emptyDir": {}}
    server_path = f"{_PREDICTOR}/containers/0"
    return [
        *_extend(predictor, "initContainers", _PREDICTOR, [copier]),
        *_extend(predictor, "volumes", _PREDICTOR, [volume]),
        *_extend(server, "env", server_path, environment),
        *_extend(server, "volumeMounts", server_path, [mount]),
    ]


def _extend(
    parent: dict[str, Any], key: str, path: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Append ``items`` to ``parent[key]``, or create the list when there is none."""
    if parent.get(key):
        return [{"op": "add", "path": f"{path}/{key}/-", "value": item} for item in items]
    return [{"op": "add", "path": f"{path}/{key}", "value": items}]


def render(plan: Plan, *, folder: DeployFolder, kubectl_path: str) -> tuple[str, str]:
    """The kustomization and what ``kubectl kustomize`` renders of it, as file contents.

    The kustomization is rendered from a scratch sibling of ``folder``: nothing in it
    is written here, so a refusal leaves the previous deployment intact.

    Raises:
        DeploymentError: the overlay is missing, kubectl cannot render it, or no
            container runs the image.
    """
    root = folder.root
    overlay = overlay_dir(root, plan.environment)
    source = overlay.relative_to(root).as_posix()
    if not overlay.is_dir():
        raise DeploymentError(
            f"{source} is missing; restore infra/ from the template (copier update) or add "
            "the overlay."
        )
    where = folder.shown(folder.directory)
    summary = f"{plan.version} in {plan.environment} at {plan.traffic}% of the traffic"
    if plan.shadow is not None:
        summary += f", shadow {plan.shadow.version}"
    header = _header(
        f"Written by `just deploy`: {summary}. Regenerated on every deploy: do not edit.",
        f"kubectl apply -k {where}  (kubectl kustomize {where} renders manifests.yaml)",
    )
    with folder.scratch() as scratch:
        written = scratch / "kustomization.yaml"
        base = None
        if plan.shadow is not None:
            # The overlay as it renders alone: the shadow's patch extends what it holds.
            plain = kustomization(
                dataclasses.replace(plan, shadow=None), directory=folder.directory, overlay=overlay
            )
            written.write_text(yaml.safe_dump(plain, sort_keys=False), encoding="utf-8")
            base = _inference_service(kubectl.kustomize(kubectl_path, scratch, source=source))
        kustomization_text = header + yaml.safe_dump(
            kustomization(plan, directory=folder.directory, overlay=overlay, base=base),
            sort_keys=False,
        )
        written.write_text(kustomization_text, encoding="utf-8")
        rendered = kubectl.kustomize(kubectl_path, scratch, source=source)
    _check_image(rendered, plan.image)
    if plan.shadow is not None:
        _check_shadow(rendered, plan.shadow)
    manifests_text = (
        _header(
            f"Rendered by `kubectl kustomize {where}` from {source}: {summary}.",
            f"kubectl apply -f {where}/manifests.yaml",
        )
        + rendered
    )
    return kustomization_text, manifests_text


def _inference_service(rendered: str) -> dict[str, Any]:
    """The first InferenceService of rendered manifests (empty when there is none)."""
    for document in yaml.safe_load_all(rendered):
        if isinstance(document, dict) and document.get("kind") == "InferenceService":
            return document
    return {}


def _check_shadow(rendered: str, shadow: Shadow) -> None:
    """The shadow's bundle comes from its own image, and the server is told which it is."""
    predictor = _inference_service(rendered).get("spec", {}).get("predictor", {})
    images = [container.get("image") for container in predictor.get("initContainers") or []]
    server = (predictor.get("containers") or [{}])[0]
    env = {item.get("name"): item.get("value") for item in server.get("env") or []}
    if shadow.image not in images or env.get("SHADOW_MODEL") != shadow.version:
        raise DeploymentError(
            f"The rendered InferenceService does not run the shadow {shadow.version} "
            f"({shadow.image}) beside the model server; check that infra/ leaves the "
            "predictor's first container as the model server."
        )


def _check_image(rendered: str, image: str) -> None:
    """Every model-server container must end up on the image; none may keep the placeholder."""
    images = [
        container.get("image")
        for document in yaml.safe_load_all(rendered)
        if isinstance(document, dict) and document.get("kind") == "InferenceService"
        for container in document.get("spec", {}).get("predictor", {}).get("containers", [])
    ]
    if image not in images or PLACEHOLDER_IMAGE in images:
        raise DeploymentError(
            f"infra/ must hold an InferenceService whose predictor container runs the image "
            f"{PLACEHOLDER_IMAGE!r} (a placeholder `just deploy` replaces with {image}); "
            f"found {', '.join(map(str, images)) or 'none'}."
        )


def _header(*lines: str) -> str:
    return "".join(f"# {line}\n" for line in lines)
