"""The model registry: register, promote, demote, archive, roll back, inspect.

Stages live in a ``stage`` tag on each MLflow model version; the
``production`` version carries the ``champion`` alias and the ``staging``
version the ``challenger`` alias, so consumers load ``models:/<name>@champion``.
Every change is made under a lock (read-modify-write: read the champion,
archive it, move the alias) and checked afterwards, and every change appends
an audit event to the registered model's tags: who, when, what and why.
"""

import fcntl
import getpass
import json
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .. import tracking
from ..config import Params, Stage
from ..errors import ModelNotFoundError, ProvenanceError, RegistryError
from ..lineage import sha256_file
from ..paths import ProjectPaths
from . import gates, provenance
from .records import (
    AUDIT_PREFIX,
    DRIFT_TAG,
    PROVENANCE_DIGEST_TAG,
    SEMVER_TAG,
    STAGE_TAG,
    AuditEvent,
    VersionRecord,
)
from .semver import Fingerprint, SemVer, next_version

CHAMPION = "champion"
CHALLENGER = "challenger"
STAGE_ALIAS: Mapping[str, str] = {"production": CHAMPION, "staging": CHALLENGER}


def current_user() -> str:
    """Who is acting: ``MODEL_REGISTRY_USER``, else the login name."""
    return os.environ.get("MODEL_REGISTRY_USER") or getpass.getuser()


class ModelRegistry:
    """Lifecycle operations on one registered model."""

    def __init__(self, paths: ProjectPaths, params: Params) -> None:
        self.paths = paths
        self.params = params
        self.name = params.registry.model_name
        tracking.configure(paths.root, params.tracking.experiment)
        self.client = MlflowClient()

    # -- reading ---------------------------------------------------------------

    def versions(self) -> list[VersionRecord]:
        """Every version, oldest semver first."""
        found = self.client.search_model_versions(f"name = '{self.name}'")
        return sorted((VersionRecord.from_mlflow(mv) for mv in found), key=lambda r: r.sortable)

    def get(self, ref: str) -> VersionRecord:
        """Resolve ``1.2.0``, ``v1.2.0``, ``@champion`` or ``@challenger``.

        Raises:
            ModelNotFoundError: nothing matches ``ref``.
        """
        if ref.startswith("@"):
            record = self.by_alias(ref[1:])
            if record is None:
                raise ModelNotFoundError(f"No version of {self.name!r} holds alias {ref}.")
            return record
        wanted = str(SemVer.parse(ref))
        for record in self.versions():
            if record.semver == wanted:
                return record
        known = ", ".join(record.semver for record in self.versions()) or "none"
        raise ModelNotFoundError(
            f"Model {self.name!r} has no version {wanted}; registered: {known}."
        )

    def by_alias(self, alias: str) -> VersionRecord | None:
        """The version holding ``alias``, if any."""
        try:
            return VersionRecord.from_mlflow(
                self.client.get_model_version_by_alias(self.name, alias)
            )
        except MlflowException:
            return None

    def history(self) -> list[AuditEvent]:
        """Audit events, oldest first."""
        try:
            tags = self.client.get_registered_model(self.name).tags
        except MlflowException:
            return []
        return [
            AuditEvent.from_tag_value(tags[key])
            for key in sorted(tags)
            if key.startswith(AUDIT_PREFIX)
        ]

    def provenance(self, record: VersionRecord) -> dict[str, Any]:
        """The provenance record of ``record``, checked against the digest in the registry.

        Raises:
            ProvenanceError: the stored provenance file was altered.
        """
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=record.run_id, artifact_path=f"provenance/{record.semver}", dst_path=tmp
                )
            )
            path = local / provenance.PROVENANCE_FILE
            if sha256_file(path) != record.tags.get(PROVENANCE_DIGEST_TAG):
                raise ProvenanceError(
                    f"provenance.json of {record.semver} does not match the digest in the registry."
                )
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data

    def load(self, ref: str) -> tuple[Any, VersionRecord]:
        """Load a version for prediction after verifying its artifact digests."""
        record = self.get(ref)
        with tempfile.TemporaryDirectory() as tmp:
            local = self._download_verified(record, Path(tmp))
            # The pyfunc deserialises its adapter while loading, so the files can go afterwards.
            return mlflow.pyfunc.load_model(str(local)), record

    def verify_artifacts(self, record: VersionRecord) -> None:
        """Verify a version's artifacts without loading the model."""
        with tempfile.TemporaryDirectory() as tmp:
            self._download_verified(record, Path(tmp))

    def _download_verified(self, record: VersionRecord, destination: Path) -> Path:
        """Download a version's model files and check them against its provenance."""
        expected = self.provenance(record)
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.name}/{record.version}", dst_path=str(destination)
            )
        )
        provenance.verify(local, expected)
        return local

    # -- writing ---------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise changes across processes on this machine."""
        self.paths.registry_lock.parent.mkdir(parents=True, exist_ok=True)
        with self.paths.registry_lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def register(
        self,
        *,
        run_id: str,
        model_uri: str,
        fingerprint: Fingerprint,
        lineage: Mapping[str, Any],
        metrics: Mapping[str, float],
        pinned: str | None = None,
        by: str | None = None,
        reason: str = "",
    ) -> VersionRecord:
        """Register a trained model as a new, immutable version in ``development``.

        Raises:
            RegistryError: the pinned version exists or is not a semantic version.
        """
        with self._locked():
            existing = self.versions()
            taken = {record.semver for record in existing}
            if pinned is not None:
                semver, bump = SemVer.parse(pinned), None
            else:
                champion = self.by_alias(CHAMPION)
                latest = existing[-1].fingerprint if existing else None
                semver, bump = next_version(
                    fingerprint,
                    [record.sortable for record in existing],
                    latest,
                    champion.fingerprint if champion else None,
                )
            if str(semver) in taken:
                raise RegistryError(
                    f"Version {semver} of {self.name!r} already exists and versions are immutable; "
                    "pin another version or let it be derived."
                )
            tags = {
                SEMVER_TAG: str(semver),
                STAGE_TAG: "development",
                "semver.bump": "pinned" if pinned is not None else (bump or "initial"),
                "model.kind": fingerprint.model_kind,
                "model.params_hash": fingerprint.params_hash,
                "model.signature_hash": fingerprint.signature_hash,
                **{f"metric.{name}": str(value) for name, value in metrics.items()},
                **{
                    f"lineage.{key}": "" if value is None else str(value)
                    for key, value in lineage.items()
                },
            }
            self._ensure_registered_model()
            model_version = mlflow.register_model(model_uri, self.name, tags=tags)
            try:
                self._attach_provenance(VersionRecord.from_mlflow(model_version), lineage, metrics)
            except Exception:
                # Never leave a version without provenance behind.
                self.client.delete_model_version(self.name, model_version.version)
                raise
            record = self.get(str(semver))
            self._audit(
                by, "register", record, from_stage=None, to_stage="development", reason=reason
            )
            return record

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
            results.extend(gates.lineage_gate(record.lineage))
        return results

    def promote(
        self, ref: str, to: Stage, *, by: str | None = None, reason: str = ""
    ) -> VersionRecord:
        """Move a version to ``staging`` or ``production`` through the gates.

        Raises:
            GateFailedError: a gate failed (nothing changed).
            RegistryError: the move is not a promotion.
        """
        if to not in STAGE_ALIAS:
            raise RegistryError(f"Cannot promote to {to!r}; promote accepts: staging, production.")
        with self._locked():
            record = self.get(ref)
            if record.stage == to:
                raise RegistryError(f"Version {record.semver} is already in {to}.")
            if record.stage == "production":
                raise RegistryError(
                    f"Version {record.semver} is in production; use demote to move it down."
                )
            gates.enforce(record.semver, to, self.check(record, to))
            self._move(record, to)
            self._audit(by, "promote", record, from_stage=record.stage, to_stage=to, reason=reason)
            return self._verified(record.semver)

    def demote(self, ref: str, *, by: str | None = None, reason: str = "") -> VersionRecord:
        """Move a version one stage down: production → staging → development.

        Raises:
            RegistryError: the version is not in production or staging.
        """
        with self._locked():
            record = self.get(ref)
            target: Stage
            if record.stage == "production":
                target = "staging"
            elif record.stage == "staging":
                target = "development"
            else:
                raise RegistryError(
                    f"Version {record.semver} is in {record.stage}; "
                    "only production or staging can be demoted."
                )
            self._move(record, target)
            self._audit(
                by, "demote", record, from_stage=record.stage, to_stage=target, reason=reason
            )
            return self._verified(record.semver)

    def archive(self, ref: str, *, by: str | None = None, reason: str = "") -> VersionRecord:
        """Retire a version: it loses its aliases and can no longer be served by alias."""
        with self._locked():
            record = self.get(ref)
            if record.stage == "archived":
                raise RegistryError(f"Version {record.semver} is already archived.")
            self._move(record, "archived")
            self._audit(
                by, "archive", record, from_stage=record.stage, to_stage="archived", reason=reason
            )
            return self._verified(record.semver)

    def rollback(
        self, ref: str | None = None, *, by: str | None = None, reason: str = ""
    ) -> VersionRecord:
        """Put a previous version back in production (default: the one before the champion).

        Metric gates are skipped (this is the emergency path) but the target's
        artifacts must still pass their integrity check.

        Raises:
            RegistryError: there is no earlier production version to return to.
        """
        with self._locked():
            champion = self.by_alias(CHAMPION)
            target = self.get(ref) if ref else self._previous_production(champion)
            if champion is not None and champion.version == target.version:
                raise RegistryError(f"Version {target.semver} is already the champion.")
            self.verify_artifacts(target)
            self._move(target, "production")
            self._audit(
                by,
                "rollback",
                target,
                from_stage=target.stage,
                to_stage="production",
                reason=reason,
            )
            return self._verified(target.semver)

    def set_drift_status(self, ref: str, status: str, *, by: str | None = None) -> VersionRecord:
        """Record the outcome of a drift check (``passed`` or ``failed``) on a version."""
        if status not in {"passed", "failed"}:
            raise RegistryError(f"Drift status must be passed or failed, got {status!r}.")
        with self._locked():
            record = self.get(ref)
            self.client.set_model_version_tag(self.name, record.version, DRIFT_TAG, status)
            self._audit(
                by,
                f"drift-check-{status}",
                record,
                from_stage=record.stage,
                to_stage=record.stage,
                reason="",
            )
            return self.get(record.semver)

    # -- internals -------------------------------------------------------------

    def _ensure_registered_model(self) -> None:
        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            self.client.create_registered_model(self.name)

    def _attach_provenance(
        self, record: VersionRecord, lineage: Mapping[str, Any], metrics: Mapping[str, float]
    ) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{self.name}/{record.version}", dst_path=f"{tmp}/model"
                )
            )
            data = provenance.build(
                semver=record.semver,
                version=record.version,
                run_id=record.run_id,
                lineage=lineage,
                metrics=metrics,
                model_dir=local,
            )
            path = Path(tmp) / provenance.PROVENANCE_FILE
            path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            self.client.log_artifact(
                record.run_id, str(path), artifact_path=f"provenance/{record.semver}"
            )
            self.client.set_model_version_tag(
                self.name, record.version, PROVENANCE_DIGEST_TAG, sha256_file(path)
            )

    def _set_stage(self, record: VersionRecord, stage: Stage) -> None:
        self.client.set_model_version_tag(self.name, record.version, STAGE_TAG, stage)

    def _move(self, record: VersionRecord, to: Stage) -> None:
        """Change stage and aliases together; the previous holder of the alias steps down."""
        for stage, held in STAGE_ALIAS.items():
            holder = self.by_alias(held)
            if holder is not None and holder.version == record.version and stage != to:
                self.client.delete_registered_model_alias(self.name, held)
        alias = STAGE_ALIAS.get(to)
        if alias is not None:
            holder = self.by_alias(alias)
            if holder is not None and holder.version != record.version:
                # A displaced champion is archived; a displaced challenger goes back to development.
                displaced: Stage = "archived" if to == "production" else "development"
                self._set_stage(holder, displaced)
                self._audit(
                    None,
                    "displace",
                    holder,
                    from_stage=holder.stage,
                    to_stage=displaced,
                    reason=f"replaced by {record.semver}",
                )
            self.client.set_registered_model_alias(self.name, alias, record.version)
        self._set_stage(record, to)

    def _previous_production(self, champion: VersionRecord | None) -> VersionRecord:
        exclude = champion.semver if champion else None
        for event in reversed(self.history()):
            if event.to_stage == "production" and event.version != exclude:
                return self.get(event.version)
        raise RegistryError(
            "No earlier production version to roll back to; name one: just rollback <version>."
        )

    def _verified(self, semver: str) -> VersionRecord:
        """Check-after-write: production and the champion alias must agree."""
        champion = self.by_alias(CHAMPION)
        in_production = [
            record.semver for record in self.versions() if record.stage == "production"
        ]
        expected = [champion.semver] if champion else []
        if in_production != expected:
            raise RegistryError(
                f"Registry inconsistent: production={in_production}, champion={expected}. "
                "Another process changed it outside the lock; inspect with `just models list`."
            )
        return self.get(semver)

    def _audit(
        self,
        by: str | None,
        action: str,
        record: VersionRecord,
        *,
        from_stage: str | None,
        to_stage: str | None,
        reason: str,
    ) -> None:
        now = datetime.now(tz=UTC)
        event = AuditEvent(
            at=now.isoformat(timespec="seconds"),
            by=by or current_user(),
            action=action,
            version=record.semver,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=reason,
        )
        key = f"{AUDIT_PREFIX}{now.strftime('%Y%m%dT%H%M%S%f')}.{uuid.uuid4().hex[:8]}"
        self.client.set_registered_model_tag(self.name, key, event.to_tag_value())
