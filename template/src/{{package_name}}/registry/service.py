"""The model registry: register, promote, demote, archive, roll back, inspect.

This module only orchestrates; each concern lives in its own module:
:mod:`.store` talks to MLflow, :mod:`.stages` holds the stage rules,
:mod:`.gates` the promotion gates, :mod:`.integrity` the artifact digests,
:mod:`.audit` the trail and what it implies, :mod:`.locking` the lock that
makes each change one read-modify-write. Every change verifies the version's
artifacts before giving it a stage, writes one audit event per stage change,
and is checked afterwards (stages, aliases and the replayed trail agree).
"""

import sqlite3
import tempfile
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast, get_args

from .. import lineage as lineage_facts
from .. import relocation, tracking
from ..config import Params, Stage
from ..errors import ModelNotFoundError, RegistryError
from ..experiments import origin_root
from ..paths import ProjectPaths
from . import audit, gates, stages
from .local_reader import LocalRegistryReader
from .records import DRIFT_TAG, SEMVER_TAG, STAGE_TAG, AuditEvent, VersionRecord
from .semver import Fingerprint, SemVer, next_version

if TYPE_CHECKING:
    from .store import RegistryStore

CHAMPION = stages.CHAMPION
CHALLENGER = stages.CHALLENGER
#: Longest ``--reason`` accepted: it is stored in a registry tag.
MAX_REASON_LENGTH = 1000


class RegistryReads(Protocol):
    """What reading the registry needs: MLflow's store, or the local SQLite reader."""

    def versions(self) -> list[VersionRecord]: ...  # noqa: D102
    def holder(self, alias: str) -> VersionRecord | None: ...  # noqa: D102
    def model_tags(self) -> dict[str, str]: ...  # noqa: D102
    def model_location(self, number: str) -> dict[str, Any]: ...  # noqa: D102


class ModelRegistry:
    """Lifecycle operations on one registered model."""

    def __init__(
        self, paths: ProjectPaths, params: Params, reads: RegistryReads | None = None
    ) -> None:
        self.paths = paths
        self.params = params
        self.name = params.registry.model_name
        self._store: RegistryStore | None = None
        self.reads: RegistryReads = reads or self.store

    @classmethod
    def for_reading(cls, paths: ProjectPaths, params: Params) -> "ModelRegistry":
        """A registry whose reads skip MLflow's import when the store is the project's own.

        Changes and artifact checks still load MLflow, on first use.
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
    def local(self) -> bool:
        """Whether changes go to the project's own store (else a shared server)."""
        return tracking.is_local_store(tracking.tracking_uri(self.paths.root), self.paths.root)

    # -- reading ---------------------------------------------------------------

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
        from . import integrity  # noqa: PLC0415 - downloads need MLflow

        with tempfile.TemporaryDirectory() as tmp:
            return integrity.read_provenance(self.store, record, Path(tmp))

    def load(self, ref: str) -> tuple[Any, VersionRecord]:
        """Load a version for prediction after verifying its artifact digests."""
        import mlflow.pyfunc  # noqa: PLC0415 - only prediction needs the pyfunc loader

        from . import integrity  # noqa: PLC0415

        record = self.get(ref)
        with tempfile.TemporaryDirectory() as tmp:
            local = integrity.download_verified(self.store, record, Path(tmp))
            # The pyfunc deserialises its adapter while loading, so the files can go afterwards.
            return mlflow.pyfunc.load_model(str(local)), record

    def verify_artifacts(self, record: VersionRecord) -> None:
        """Verify a version's provenance and artifacts without loading the model."""
        from . import integrity  # noqa: PLC0415

        integrity.verify(self.store, record)

    def export(self, ref: str, destination: Path) -> tuple[VersionRecord, Path]:
        """Write a version's verified model bundle (model files + provenance) for serving."""
        from .export import export_bundle  # noqa: PLC0415 - only exporting needs MLflow's client

        record = self.get(ref)
        return record, export_bundle(self.store, record, destination)

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

    # -- writing ---------------------------------------------------------------

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
        _check_reason(reason)
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
            from . import integrity  # noqa: PLC0415

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

    def promote(
        self, ref: str, to: str, *, by: str | None = None, reason: str = ""
    ) -> VersionRecord:
        """Move a version to ``staging`` or ``production`` through the gates.

        Raises:
            GateFailedError: a gate failed (nothing changed).
            ProvenanceError: its artifacts fail their integrity check (nothing changed).
            RegistryError: the move is not a promotion.
        """
        _check_reason(reason)
        with self._locked():
            record = self.get(ref)
            try:
                target = stages.promotion_target(_stage(record), to)
            except RegistryError as exc:
                raise RegistryError(f"Cannot promote {record.semver} to {to}: {exc}.") from None
            self._admit(record, target, action="promote")
            self._apply(
                stages.moves("promote", record.semver, _stage(record), target, self._holders()),
                by=by,
                reason=reason,
            )
            return self._checked(record.semver)

    def demote(
        self,
        ref: str,
        *,
        by: str | None = None,
        reason: str = "",
        replacement: str | None = None,
        force: bool = False,
    ) -> tuple[VersionRecord, VersionRecord | None]:
        """Move a version one stage down: production → staging → development.

        Returns the demoted version and the champion afterwards.

        Raises:
            RegistryError: not in production or staging, or it is the champion and
                neither a replacement nor ``force`` was given.
        """
        _check_reason(reason)
        with self._locked():
            record = self.get(ref)
            try:
                target = stages.demotion_target(_stage(record))
            except RegistryError as exc:
                raise RegistryError(f"Cannot demote {record.semver}: {exc}.") from None
            return self._retire(
                record,
                target=target,
                action="demote",
                by=by,
                reason=reason,
                replacement=replacement,
                force=force,
            )

    def archive(
        self,
        ref: str,
        *,
        by: str | None = None,
        reason: str = "",
        replacement: str | None = None,
        force: bool = False,
    ) -> tuple[VersionRecord, VersionRecord | None]:
        """Retire a version: it loses its aliases and rollback no longer returns to it.

        Returns the archived version and the champion afterwards.

        Raises:
            RegistryError: already archived, or it is the champion and neither a
                replacement nor ``force`` was given.
        """
        _check_reason(reason)
        with self._locked():
            record = self.get(ref)
            if record.stage == "archived":
                raise RegistryError(f"Version {record.semver} is already archived.")
            return self._retire(
                record,
                target="archived",
                action="archive",
                by=by,
                reason=reason,
                replacement=replacement,
                force=force,
            )

    def rollback(
        self, ref: str | None = None, *, by: str | None = None, reason: str = ""
    ) -> VersionRecord:
        """Return production to an earlier champion (default: the one before the current).

        Rollback walks back along the production history (C → B → A), never
        forward to the version it just left, and only to versions that were
        champion before: anything else goes through ``promote`` and its gates.
        Metric gates are skipped (this is the emergency path), the integrity
        check is not.

        Raises:
            RegistryError: nothing earlier to return to, or ``ref`` was never champion.
            ProvenanceError: the target's artifacts fail their integrity check.
        """
        _check_reason(reason)
        with self._locked():
            candidates = self.rollback_targets()
            champion = self.by_alias(CHAMPION)
            if ref is None:
                if not candidates:
                    current = f"{champion.semver} is the champion" if champion else "none is"
                    raise RegistryError(
                        f"Nothing earlier to roll back to: {current} and no earlier champion "
                        "remains in the production history. Promote a version through the "
                        "gates instead: just models promote <version> production."
                    )
                target = self.get(candidates[0])
            else:
                target = self.get(ref)
                if champion is not None and target.version == champion.version:
                    raise RegistryError(f"Version {target.semver} is already the champion.")
                if target.semver not in candidates:
                    earlier = ", ".join(candidates) or "none"
                    raise RegistryError(
                        f"Cannot roll back to {target.semver}: it was never champion (or was "
                        f"taken out of production on purpose). Rollback returns only to earlier "
                        f"champions ({earlier}); to put {target.semver} in production through "
                        f"the gates: just models promote {target.semver} production."
                    )
            self.verify_artifacts(target)
            self._apply(
                stages.moves(
                    "rollback", target.semver, _stage(target), "production", self._holders()
                ),
                by=by,
                reason=reason,
            )
            return self._checked(target.semver)

    def set_drift_status(
        self,
        ref: str,
        status: str,
        *,
        by: str | None = None,
        reason: str = "",
        evidence: Mapping[str, str] | None = None,
    ) -> VersionRecord:
        """Record the outcome of a drift check (``passed`` or ``failed``) on a version.

        A computed check (``just drift``) passes its ``evidence`` (verdict,
        batch SHA-256, report path), stored as ``drift_check.<key>`` tags
        beside ``drift_check.source=computed``. Without evidence the status is
        a manual override of the computed check, so it must say why: the
        reason goes to the audit trail either way. The status tag is written
        last, so the ``require_drift_check`` gate never reads a status ahead
        of its evidence.

        Raises:
            RegistryError: not a version reference, unknown status, or no reason.
        """
        if not ref.startswith("@"):
            SemVer.parse(ref)  # the arguments are checked in the order they are given
        if status not in {"passed", "failed"}:
            raise RegistryError(f"Drift status must be passed or failed, got {status!r}.")
        if not reason.strip():
            raise RegistryError(
                "Setting a drift status by hand overrides the computed check and needs a "
                'reason: just models drift <version> passed|failed "why" (or run `just drift '
                "<batch> [version]` to compute it)."
            )
        _check_reason(reason)
        tags = {f"{DRIFT_TAG}.{key}": value for key, value in (evidence or {}).items()}
        tags[f"{DRIFT_TAG}.source"] = "computed" if evidence else "manual"
        tags[DRIFT_TAG] = status
        with self._locked():
            record = self.get(ref)
            for key, value in tags.items():
                self.store.set_version_tag(record.version, key, value)
            self._audit(
                audit.event(
                    f"drift-check-{status}",
                    record.semver,
                    from_stage=record.stage,
                    to_stage=record.stage,
                    by=by,
                    reason=reason,
                )
            )
            return self._checked(record.semver)

    # -- internals -------------------------------------------------------------

    def _locked(self) -> AbstractContextManager[None]:
        from .locking import registry_lock  # noqa: PLC0415 - only changes take the lock

        self.store  # noqa: B018 - configure MLflow before the lock needs its client
        return registry_lock(self.name, self.paths.registry_lock, self.local)

    def _holders(self) -> dict[Stage, str | None]:
        holders: dict[Stage, str | None] = {}
        for stage, alias in stages.STAGE_ALIAS.items():
            holder = self.by_alias(alias)
            holders[stage] = holder.semver if holder else None
        return holders

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

    def _admit(self, record: VersionRecord, target: Stage, *, action: str) -> None:
        """Gates (for promotions) and the integrity check, before any write."""
        if action == "promote":
            gates.enforce(record.semver, target, self.check(record, target))
        self.verify_artifacts(record)

    def _retire(
        self,
        record: VersionRecord,
        *,
        target: Stage,
        action: str,
        by: str | None,
        reason: str,
        replacement: str | None,
        force: bool,
    ) -> tuple[VersionRecord, VersionRecord | None]:
        """Demote or archive ``record``; a champion needs a replacement or ``force``."""
        takeover: stages.Move | None = None
        if record.stage == "production":
            if replacement is not None:
                takeover = self._replacement_move(record, replacement)
            elif not force:
                raise RegistryError(
                    f"{record.semver} is the champion: {action} would leave production empty. "
                    f"Name the version that takes over with --replacement <version>, or pass "
                    f"--force to leave production empty (serving @champion then fails)."
                )
        elif replacement is not None:
            raise RegistryError(
                f"--replacement applies only when the champion leaves production; "
                f"{record.semver} is in {record.stage}."
            )
        planned = stages.moves(action, record.semver, _stage(record), target, self._holders())
        if takeover is not None:
            # The replacement leaves its own stage for production, so it is not displaced.
            planned = [move for move in planned if move.version != takeover.version]
            planned.append(takeover)
        self._apply(planned, by=by, reason=reason)
        return self._checked(record.semver), self.by_alias(CHAMPION)

    def _replacement_move(self, champion: VersionRecord, ref: str) -> stages.Move:
        """Validate the version that takes production over from ``champion``."""
        replacement = self.get(ref)
        if replacement.version == champion.version:
            raise RegistryError(f"{champion.semver} cannot replace itself.")
        if replacement.semver in self.rollback_targets():
            self.verify_artifacts(replacement)
            return stages.Move(replacement.semver, _stage(replacement), "production", "rollback")
        self._admit(replacement, "production", action="promote")
        return stages.Move(replacement.semver, _stage(replacement), "production", "promote")

    def _apply(self, planned: list[stages.Move], *, by: str | None, reason: str) -> None:
        """Write stage tags, then aliases, then one audit event per move."""
        by_semver = {record.semver: record for record in self.versions()}
        final: dict[str, Stage] = {semver: _stage(record) for semver, record in by_semver.items()}
        for move in planned:
            final[move.version] = move.to_stage
        aliases = stages.aliases_after(final)
        for move in planned:
            self.store.set_version_tag(by_semver[move.version].version, STAGE_TAG, move.to_stage)
        for alias, semver in aliases.items():
            current = self.by_alias(alias)
            if semver is None and current is not None:
                self.store.delete_alias(alias)
            elif semver is not None and (current is None or current.semver != semver):
                self.store.set_alias(alias, by_semver[semver].version)
        promoted = [move for move in planned if move.to_stage == "production"]
        for move in promoted:
            self._record_committed_lineage(by_semver[move.version])
        for move in planned:
            automatic = move.action == "displace"
            self._audit(
                audit.event(
                    move.action,
                    move.version,
                    from_stage=move.from_stage,
                    to_stage=move.to_stage,
                    by=None if automatic else by,
                    reason=_displaced_reason(planned) if automatic else reason,
                )
            )

    def _record_committed_lineage(self, record: VersionRecord) -> None:
        """Note the commit that holds the files a dirty-trained version was trained on."""
        if committed := self._committed_as(record):
            self.store.set_version_tag(record.version, "lineage.committed_as", committed)

    def _audit(self, event: AuditEvent) -> None:
        self.store.set_model_tag(audit.next_key(self.reads.model_tags()), event.to_tag_value())

    def _checked(self, semver: str) -> VersionRecord:
        """Check-after-write: stages, aliases and the replayed audit trail must agree."""
        versions = self.versions()
        current = {record.semver: _stage(record) for record in versions}
        for stage, alias in stages.STAGE_ALIAS.items():
            holder = self.by_alias(alias)
            in_stage = sorted(semver for semver, now in current.items() if now == stage)
            expected = [holder.semver] if holder else []
            if in_stage != expected:
                raise RegistryError(
                    f"Registry inconsistent: {stage}={in_stage} but @{alias}={expected}. "
                    "Another process changed it outside the lock; inspect with "
                    "`just models list` and `just models history`."
                )
        replayed = audit.replay(self.history())
        drifted = sorted(v for v, stage in replayed.items() if current.get(v, stage) != stage)
        if drifted:
            raise RegistryError(
                f"Registry inconsistent: the audit history disagrees with the stages of "
                f"{', '.join(drifted)}; inspect with `just models history`."
            )
        return next(record for record in versions if record.semver == semver)


def _stage(record: VersionRecord) -> Stage:
    if record.stage not in get_args(Stage):
        raise RegistryError(f"Version {record.semver} has an unknown stage tag {record.stage!r}.")
    return cast("Stage", record.stage)


def _displaced_reason(planned: list[stages.Move]) -> str:
    newcomers = [move.version for move in planned if move.action != "displace"]
    return f"replaced by {', '.join(newcomers)}"


def _check_reason(reason: str) -> None:
    if len(reason) > MAX_REASON_LENGTH:
        raise RegistryError(
            f"--reason is {len(reason)} characters; the registry keeps at most "
            f"{MAX_REASON_LENGTH}. Shorten it (link to a document for details)."
        )
