"""Reading the registry: resolve a version, its history and files, and what its gates say.

Nothing here changes the registry. Reads go to MLflow's store, or to the
local SQLite reader when the store is the project's own
(:meth:`RegistryReader.for_reading`): then the version's files are copied
straight from the project's artifact folder too (:mod:`.artifacts`), so
``models list`` and ``predict`` need no MLflow. Every read of a version's
files checks them against their recorded digests (:mod:`.integrity`).
"""

import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

from .. import lineage as lineage_facts
from .. import relocation, tracking
from ..config import Params, Stage
from ..errors import ModelNotFoundError
from ..experiments import origin_root
from ..paths import ProjectPaths
from . import audit, gates, integrity
from .artifacts import ArtifactSource, LocalArtifacts
from .export import export_bundle
from .local_reader import LocalRegistryReader
from .records import DRIFT_TAG, AuditEvent, VersionRecord
from .semver import SemVer
from .stages import CHALLENGER, CHAMPION

if TYPE_CHECKING:
    from .store import RegistryStore


class RegistryReads(Protocol):
    """What reading the registry needs: MLflow's store, or the local SQLite reader."""

    def versions(self) -> list[VersionRecord]: ...  # noqa: D102
    def holder(self, alias: str) -> VersionRecord | None: ...  # noqa: D102
    def model_tags(self) -> dict[str, str]: ...  # noqa: D102
    def model_location(self, number: str) -> dict[str, Any]: ...  # noqa: D102


class RegistryReader:
    """Read-only view of one registered model: versions, aliases, history, files, gates."""

    def __init__(
        self, paths: ProjectPaths, params: Params, reads: RegistryReads | None = None
    ) -> None:
        self.paths = paths
        self.params = params
        self.name = params.registry.model_name
        self._store: RegistryStore | None = None
        self.reads: RegistryReads = reads or self.store

    @classmethod
    def for_reading(cls, paths: ProjectPaths, params: Params) -> Self:
        """A registry whose reads skip MLflow's import when the store is the project's own.

        Changes still load MLflow, on first use.
        """
        root = origin_root(paths.root)  # a DVC experiment's copy reads its project's
        database = root / tracking.LOCAL_STORE
        if tracking.is_local_store(tracking.tracking_uri(paths.root), paths.root) and (
            database.is_file()
        ):
            relocation.relocate(root)  # a moved copy must not show the original's paths
            reader = LocalRegistryReader(database, params.registry.model_name)
            try:
                reader.model_tags()
            except sqlite3.Error:  # a store layout this reader does not know: use MLflow
                return cls(paths, params)
            return cls(paths, params, reads=reader)
        return cls(paths, params)

    @property
    def store(self) -> "RegistryStore":
        """MLflow's registry, configured on first use (importing MLflow takes seconds)."""
        if self._store is None:
            from .store import RegistryStore  # noqa: PLC0415

            tracking.configure(self.paths.root, self.params.tracking.experiment)
            self._store = RegistryStore(self.name)
        return self._store

    @property
    def artifacts(self) -> ArtifactSource:
        """Where version files come from: copied from the project's folder, or MLflow's."""
        if isinstance(self.reads, LocalRegistryReader):
            return LocalArtifacts(self.reads, lambda: self.store)
        return self.store

    @property
    def local(self) -> bool:
        """Whether changes go to the project's own store (else a shared server)."""
        return tracking.is_local_store(tracking.tracking_uri(self.paths.root), self.paths.root)

    def versions(self) -> list[VersionRecord]:
        """Every version, oldest semver first."""
        return self.reads.versions()

    def get(self, ref: str) -> VersionRecord:
        """Resolve ``1.2.0``, ``v1.2.0``, ``@champion`` or ``@challenger``.

        Raises:
            ModelNotFoundError: nothing matches ``ref``.
        """
        if ref.startswith("@"):
            record = self.by_alias(ref[1:])
            if record is None:
                raise ModelNotFoundError(
                    f"No version of {self.name!r} holds alias {ref}; aliases: @{CHAMPION} "
                    f"(production), @{CHALLENGER} (staging)."
                )
            return record
        wanted = str(SemVer.parse(ref))
        versions = self.versions()
        for record in versions:
            if record.semver == wanted:
                return record
        known = ", ".join(record.semver for record in versions) or "none"
        raise ModelNotFoundError(
            f"Model {self.name!r} has no version {wanted}; registered: {known}."
        )

    def by_alias(self, alias: str) -> VersionRecord | None:
        """The version holding ``alias``, if any."""
        return self.reads.holder(alias)

    def history(self) -> list[AuditEvent]:
        """Audit events, oldest first."""
        return audit.read(self.reads.model_tags())

    def location(self, record: VersionRecord) -> dict[str, Any]:
        """The version's model URI and where its files are stored."""
        return self.reads.model_location(record.version)

    def provenance(self, record: VersionRecord) -> dict[str, Any]:
        """The provenance record of ``record``, checked against the digest in the registry."""
        with tempfile.TemporaryDirectory() as tmp:
            return integrity.read_provenance(self.artifacts, record, Path(tmp))

    def load(self, ref: str) -> tuple[Any, VersionRecord]:
        """Load a version as an MLflow pyfunc model after verifying its artifact digests."""
        import mlflow.pyfunc  # noqa: PLC0415 - only the pyfunc loader needs MLflow

        record = self.get(ref)
        with tempfile.TemporaryDirectory() as tmp:
            local = integrity.download_verified(self.artifacts, record, Path(tmp))
            # The pyfunc deserialises its adapter while loading, so the files can go afterwards.
            return mlflow.pyfunc.load_model(str(local)), record

    def verify_artifacts(self, record: VersionRecord) -> None:
        """Verify a version's provenance and artifacts without loading the model."""
        integrity.verify(self.artifacts, record)

    def export(self, ref: str, destination: Path) -> tuple[VersionRecord, Path]:
        """Write a version's verified model bundle (model files + provenance) for serving."""
        record = self.get(ref)
        return record, export_bundle(self.artifacts, record, destination)

    def check(self, record: VersionRecord, stage: Stage) -> list[gates.GateResult]:
        """Evaluate every gate that applies to promoting ``record`` to ``stage``."""
        config = self.params.gates
        results = gates.metric_gates(config, record.metrics)
        champion = self.by_alias(CHAMPION)
        if champion is not None and champion.version != record.version:
            regression = gates.regression_gate(config, record.metrics, champion.metrics)
            if regression is not None:
                results.append(regression)
        drift = gates.drift_gate(config, record.tags.get(DRIFT_TAG))
        if drift is not None:
            results.append(drift)
        if stage == "production":
            results.extend(gates.lineage_gate(record.lineage, self._committed_as(record)))
        return results

    def rollback_targets(self) -> list[str]:
        """Earlier champions rollback may return to, newest first."""
        champion = self.by_alias(CHAMPION)
        history = audit.production_history(self.history())
        return audit.rollback_candidates(history, champion.semver if champion else None)

    def _committed_as(self, record: VersionRecord) -> str | None:
        """The commit holding the files a dirty-trained version saw (``None``: none, or clean)."""
        recorded = record.lineage.get("content_hash")
        if record.lineage.get("git_dirty") == "False" or not recorded:
            return None
        return lineage_facts.commit_holding(
            self.paths.root,
            recorded,
            record.lineage.get("git_sha"),
            self.paths.pipeline_outputs(),
        )
