"""The manifests of one deployment: a kustomization over an overlay, rendered by kubectl.

Each deployment writes a small kustomization next to its rendered output:
it points at ``infra/overlays/<environment>`` and sets only what varies per
deployment (the image tag, the model version label and, in production, the
traffic percent). ``kubectl kustomize`` renders it, so ``manifests.yaml`` is
what ``kubectl apply -k build/deploy/<environment>`` would apply, by
construction, and a review of ``infra/`` is a review of every deployment.
The rendered objects are then checked for the one thing Kustomize cannot
know: that the model server runs this deployment's image.
"""

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
_KSERVE_GROUP = "serving.kserve.io"


@dataclass(frozen=True)
class Plan:
    """What one deployment runs, where, with how much of the traffic."""

    environment: Environment
    version: str
    repository: str
    tag: str
    canary: int | None

    @property
    def image(self) -> str:
        """The full image reference the model server runs."""
        return f"{self.repository}:{self.tag}"

    @property
    def traffic(self) -> int:
        """Percent of the environment's traffic the new revision receives."""
        return FULL_TRAFFIC if self.canary is None else self.canary


def overlay_dir(root: Path, environment: Environment) -> Path:
    """``infra/overlays/<environment>`` of the project."""
    return root / "infra" / "overlays" / environment


def kustomization(plan: Plan, *, directory: Path, overlay: Path) -> dict[str, Any]:
    """The kustomization, living in ``directory``, that deploys ``plan`` over ``overlay``."""
    data: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [Path(os.path.relpath(overlay, directory)).as_posix()],
        "labels": [{"pairs": {"app.kubernetes.io/version": plan.version}}],
        "images": [{"name": PLACEHOLDER_IMAGE, "newName": plan.repository, "newTag": plan.tag}],
    }
    if plan.environment == "production":
        # `add` sets the member whether or not the overlay declares it.
        operation = {"op": "add", "path": "/spec/predictor/canaryTrafficPercent"}
        data["patches"] = [
            {
                "target": {"group": _KSERVE_GROUP, "kind": "InferenceService"},
                "patch": json.dumps([operation | {"value": plan.traffic}]),
            }
        ]
    return data


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
    kustomization_text = _header(
        f"Written by `just deploy`: {summary}. Regenerated on every deploy: do not edit.",
        f"kubectl apply -k {where}  (kubectl kustomize {where} renders manifests.yaml)",
    ) + yaml.safe_dump(
        kustomization(plan, directory=folder.directory, overlay=overlay), sort_keys=False
    )
    with folder.scratch() as scratch:
        (scratch / "kustomization.yaml").write_text(kustomization_text, encoding="utf-8")
        rendered = kubectl.kustomize(kubectl_path, scratch, source=source)
    _check_image(rendered, plan.image)
    manifests_text = (
        _header(
            f"Rendered by `kubectl kustomize {where}` from {source}: {summary}.",
            f"kubectl apply -f {where}/manifests.yaml",
        )
        + rendered
    )
    return kustomization_text, manifests_text


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
