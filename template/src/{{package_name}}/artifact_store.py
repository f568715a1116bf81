"""``project:/`` artifact URIs: MLflow artifacts addressed relative to the project.

MLflow stores absolute ``file://`` locations in its database, so a copied
project would silently read the original's models and a moved one would
break. Locations of the form ``project:/mlartifacts/…`` are resolved against
the root of the project that is running (``PROJECT_ARTIFACTS_ROOT``, set by
:func:`.tracking.configure`, else the directory holding ``mlflow.db`` or
``params.yaml``), so every copy reads its own files and nothing outside its
tree. MLflow finds this class through the ``mlflow.artifact_repository``
entry point declared in ``pyproject.toml``.
"""

import os
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from .tracking import ARTIFACTS_ROOT_ENV, LOCAL_STORE

SCHEME = "project"


def project_root(tracking_uri: str | None = None) -> Path:
    """The project an artifact URI is relative to."""
    if explicit := os.environ.get(ARTIFACTS_ROOT_ENV):
        return Path(explicit)
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    if uri.startswith("sqlite:///") and uri.endswith(LOCAL_STORE):
        return Path(unquote(uri.removeprefix("sqlite:///"))).parent
    current = Path.cwd().resolve()
    return next((p for p in (current, *current.parents) if (p / "params.yaml").is_file()), current)


def resolve(artifact_uri: str, root: Path) -> Path:
    """The local directory of ``project:/<relative>`` inside ``root``.

    Raises:
        ValueError: the URI is not a ``project:`` URI or escapes the project.
    """
    parsed = urlparse(artifact_uri)
    if parsed.scheme != SCHEME:
        raise ValueError(f"{artifact_uri!r} is not a {SCHEME}:/ artifact URI.")
    relative = PurePosixPath(unquote(parsed.path).lstrip("/"))
    if ".." in relative.parts:
        raise ValueError(f"Artifact URI {artifact_uri!r} points outside the project.")
    return root.resolve().joinpath(*relative.parts)


class ProjectArtifactRepository(LocalArtifactRepository):  # type: ignore[misc]  # MLflow is untyped here
    """A local artifact repository rooted in the running project."""

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        local = resolve(artifact_uri, project_root(tracking_uri))
        super().__init__(local.as_uri(), tracking_uri, registry_uri)
