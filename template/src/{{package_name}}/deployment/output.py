"""Where a deployment is written, and the record of the last one per environment.

``build/deploy/<environment>/`` holds three files, rewritten by every
``just deploy`` of that environment: ``kustomization.yaml`` (for
``kubectl apply -k``), ``manifests.yaml`` (what is applied) and
``deployment.json``: which version, image and traffic percent, when, by
whom, and whether kubectl applied it. A deployment is rendered in a
scratch sibling of that folder first (:meth:`DeployFolder.scratch`), so a
refused or failed render leaves the previous deployment's files as they
were. The record is what tells ``just rollback`` that this checkout deploys
production, so the restored champion is deployed too. It lives with the
build outputs, not in the registry: it describes this checkout's last
deployment, not a property of a model version (``just clean`` removes it
with the rest of ``build/``). Paths in it are relative, so a moved project
keeps working.
"""

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import DeploymentError
from .policy import ENVIRONMENTS, Environment


@dataclass(frozen=True)
class DeploymentRecord:
    """The last deployment of one environment from this checkout."""

    version: str
    environment: Environment
    image: str
    traffic_percent: int
    canary: bool
    deployed_at: str
    deployed_by: str
    applied: bool
    kubectl_context: str | None
    manifests: str
    #: The version scoring the same requests off the request path (``just deploy <v> shadow``).
    shadow: str | None = None


@dataclass(frozen=True)
class DeployFolder:
    """``build/deploy/<environment>`` of a project."""

    root: Path
    environment: Environment

    @property
    def directory(self) -> Path:
        """The folder itself."""
        return self.root / "build" / "deploy" / self.environment

    @property
    def kustomization(self) -> Path:
        """The kustomization over the environment's overlay."""
        return self.directory / "kustomization.yaml"

    @property
    def manifests(self) -> Path:
        """The rendered multi-document YAML that is applied."""
        return self.directory / "manifests.yaml"

    @property
    def record_file(self) -> Path:
        """The :class:`DeploymentRecord` of the last deployment."""
        return self.directory / "deployment.json"

    def shown(self, path: Path) -> str:
        """``path`` relative to the project, as commands print and records store it."""
        return path.relative_to(self.root).as_posix()

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """An empty folder beside :attr:`directory`, removed on exit.

        At the same depth, a kustomization written there reaches ``infra/`` by the same
        relative path as one written in :attr:`directory`: the render is of the very file
        that is kept, yet nothing in :attr:`directory` changes until it succeeded.
        """
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.environment}-render-"
        with tempfile.TemporaryDirectory(prefix=prefix, dir=self.directory.parent) as scratch:
            yield Path(scratch)

    def read_record(self) -> DeploymentRecord | None:
        """The last deployment recorded here, if any.

        Raises:
            DeploymentError: the record exists but is not one.
        """
        if not self.record_file.is_file():
            return None
        try:
            data: Any = json.loads(self.record_file.read_text(encoding="utf-8"))
            record = DeploymentRecord(**data)
        except (ValueError, TypeError):
            record = None
        if record is None or record.environment not in ENVIRONMENTS:
            raise DeploymentError(
                f"{self.shown(self.record_file)} is not a deployment record; delete it and "
                "deploy again."
            )
        return record

    def write_manifests(self, kustomization: str, manifests: str) -> None:
        """Write the kustomization and the rendered manifests (each file atomically)."""
        _write(self.kustomization, kustomization)
        _write(self.manifests, manifests)

    def write_record(self, record: DeploymentRecord) -> None:
        """Record a deployment, replacing the previous record."""
        _write(self.record_file, json.dumps(asdict(record), indent=2, sort_keys=True) + "\n")


def _write(path: Path, text: str) -> None:
    """Write a temporary sibling, then rename it: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
