"""The manifests of one deployment: a kustomization over an overlay, and what it renders.

Each deployment writes a small kustomization next to its rendered output:
it points at ``infra/overlays/<environment>`` and sets only what varies per
deployment (the image tag, the model version label and, in production, the
traffic percent). So ``kubectl apply -k build/deploy/<environment>`` and
``kubectl apply -f .../manifests.yaml`` apply the same objects, and a review
of ``infra/`` is a review of every deployment.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import DeploymentError
from .kustomize import Document, render_kustomization, split_image
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
    image: str
    canary: int | None

    @property
    def traffic(self) -> int:
        """Percent of the environment's traffic the new revision receives."""
        return FULL_TRAFFIC if self.canary is None else self.canary


def overlay_dir(root: Path, environment: Environment) -> Path:
    """``infra/overlays/<environment>`` of the project."""
    return root / "infra" / "overlays" / environment


def kustomization(plan: Plan, *, directory: Path, overlay: Path) -> dict[str, Any]:
    """The kustomization, living in ``directory``, that deploys ``plan`` over ``overlay``."""
    name, tag, _ = split_image(plan.image)
    data: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [Path(os.path.relpath(overlay, directory)).as_posix()],
        "labels": [{"pairs": {"app.kubernetes.io/version": plan.version}}],
        "images": [{"name": PLACEHOLDER_IMAGE, "newName": name, "newTag": tag}],
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


def render(plan: Plan, *, directory: Path, root: Path) -> tuple[str, str]:
    """The kustomization and the rendered multi-document YAML, as file contents.

    Raises:
        DeploymentError: ``infra/`` cannot be rendered, or no container runs the image.
    """
    overlay = overlay_dir(root, plan.environment)
    if not overlay.is_dir():
        raise DeploymentError(
            f"{overlay.relative_to(root).as_posix()} is missing; restore infra/ from the "
            "template (copier update) or add the overlay."
        )
    data = kustomization(plan, directory=directory, overlay=overlay)
    documents = render_kustomization(data, directory, root=root)
    _check_image(documents, plan.image)
    where = directory.relative_to(root).as_posix()
    summary = f"{plan.version} in {plan.environment} at {plan.traffic}% of the traffic"
    kustomization_text = _header(
        f"Written by `just deploy`: {summary}. Regenerated on every deploy: do not edit.",
        f"kubectl apply -k {where}  (kubectl kustomize {where} shows the same as manifests.yaml)",
    ) + yaml.safe_dump(data, sort_keys=False)
    manifests_text = _header(
        f"Rendered by `just deploy` from infra/overlays/{plan.environment}: {summary}.",
        f"kubectl apply -f {where}/manifests.yaml",
    ) + "---\n".join(yaml.safe_dump(document, sort_keys=False) for document in documents)
    return kustomization_text, manifests_text


def _check_image(documents: list[Document], image: str) -> None:
    """Every model-server container must end up on the image; none may keep the placeholder."""
    images = [
        container.get("image")
        for document in documents
        if document.get("kind") == "InferenceService"
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
