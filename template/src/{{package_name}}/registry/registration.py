"""Registering a trained run: a new, immutable version with its semver, tags and provenance.

The version number is derived from what changed since the latest version
(:mod:`.semver`) unless one is pinned; the version's ``provenance.json``
(:mod:`.integrity`) is attached before anything else can see it.
"""

from collections.abc import Mapping
from typing import Any

from ..errors import RegistryError
from . import audit, integrity
from .records import SEMVER_TAG, STAGE_TAG, VersionRecord
from .semver import Fingerprint, SemVer, next_version
from .writing import RegistryWriter


class Registration(RegistryWriter):
    """Adds versions to the registry."""

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
    ) -> tuple[VersionRecord, bool]:
        """Register a trained run as a new, immutable version in ``development``.

        A run is registered once: registering it again returns its existing
        version (and ``False``), so re-running the stage after a change of
        gates or registry settings re-evaluates promotion without a new version.

        Raises:
            RegistryError: the pinned version exists or is not a semantic version.
        """
        audit.check_reason(reason)
        with self._locked():
            existing = self.versions()
            same_run = [record for record in existing if record.run_id == run_id]
            if same_run:
                record = same_run[0]
                if pinned is not None and str(SemVer.parse(pinned)) != record.semver:
                    raise RegistryError(
                        f"Run {run_id} is already registered as {record.semver}; a run gets one "
                        "version. Retrain to register a new one."
                    )
                return record, False
            if pinned is not None:
                semver, bump = SemVer.parse(pinned), "pinned"
            else:
                latest = existing[-1].fingerprint if existing else None
                derived, part = next_version(
                    fingerprint, [record.sortable for record in existing], latest
                )
                semver, bump = derived, part or "initial"
            if str(semver) in {record.semver for record in existing}:
                raise RegistryError(
                    f"Version {semver} of {self.name!r} already exists and versions are immutable; "
                    "pin another version or let it be derived."
                )
            tags = {
                SEMVER_TAG: str(semver),
                STAGE_TAG: "development",
                "semver.bump": bump,
                "model.kind": fingerprint.model_kind,
                "model.params_hash": fingerprint.params_hash,
                "model.signature_hash": fingerprint.signature_hash,
                **{f"metric.{name}": str(value) for name, value in metrics.items()},
                **{
                    f"lineage.{key}": "" if value is None else str(value)
                    for key, value in lineage.items()
                },
            }
            self.store.ensure_model()
            created = self.store.create_version(model_uri, run_id, tags)
            try:
                integrity.attach(self.store, created, lineage, metrics)
            except Exception:
                # Never leave a version without provenance behind.
                self.store.delete_version(created.version)
                raise
            self._audit(
                audit.event(
                    "register",
                    str(semver),
                    from_stage=None,
                    to_stage="development",
                    by=by,
                    reason=reason,
                )
            )
            return self._checked(str(semver)), True
