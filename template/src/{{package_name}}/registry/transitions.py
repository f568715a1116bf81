"""Moving versions between stages: promote, demote, archive, roll back.

Each operation plans its moves with the rules in :mod:`.stages` (a version
entering an occupied stage displaces the holder), admits the version
(promotions through the gates of :mod:`.gates`; every version into a stage
through its integrity check), then writes stage tags, aliases and one audit
event per move, under the registry lock.
"""

from ..config import Stage
from ..errors import RegistryError
from . import audit, gates, stages
from .records import STAGE_TAG, VersionRecord
from .stages import CHAMPION, stage_of
from .writing import RegistryWriter


class StageTransitions(RegistryWriter):
    """Promotions through the gates, demotions, archiving and rollback."""

    def promote(
        self, ref: str, to: str, *, by: str | None = None, reason: str = ""
    ) -> VersionRecord:
        """Move a version to ``staging`` or ``production`` through the gates.

        Raises:
            GateFailedError: a gate failed (nothing changed).
            ProvenanceError: its artifacts fail their integrity check (nothing changed).
            RegistryError: the move is not a promotion.
        """
        audit.check_reason(reason)
        with self._locked():
            record = self.get(ref)
            try:
                target = stages.promotion_target(stage_of(record), to)
            except RegistryError as exc:
                raise RegistryError(f"Cannot promote {record.semver} to {to}: {exc}.") from None
            self._admit(record, target, action="promote")
            self._apply(
                stages.moves("promote", record.semver, stage_of(record), target, self._holders()),
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
        audit.check_reason(reason)
        with self._locked():
            record = self.get(ref)
            try:
                target = stages.demotion_target(stage_of(record))
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
        audit.check_reason(reason)
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
        audit.check_reason(reason)
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
                    "rollback", target.semver, stage_of(target), "production", self._holders()
                ),
                by=by,
                reason=reason,
            )
            return self._checked(target.semver)

    def _holders(self) -> dict[Stage, str | None]:
        holders: dict[Stage, str | None] = {}
        for stage, alias in stages.STAGE_ALIAS.items():
            holder = self.by_alias(alias)
            holders[stage] = holder.semver if holder else None
        return holders

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
        planned = stages.moves(action, record.semver, stage_of(record), target, self._holders())
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
            return stages.Move(replacement.semver, stage_of(replacement), "production", "rollback")
        self._admit(replacement, "production", action="promote")
        return stages.Move(replacement.semver, stage_of(replacement), "production", "promote")

    def _apply(self, planned: list[stages.Move], *, by: str | None, reason: str) -> None:
        """Write stage tags, then aliases, then one audit event per move."""
        by_semver = {record.semver: record for record in self.versions()}
        final: dict[str, Stage] = {semver: stage_of(record) for semver, record in by_semver.items()}
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
        newcomers = ", ".join(move.version for move in planned if move.action != "displace")
        for move in planned:
            automatic = move.action == "displace"
            self._audit(
                audit.event(
                    move.action,
                    move.version,
                    from_stage=move.from_stage,
                    to_stage=move.to_stage,
                    by=None if automatic else by,
                    reason=f"replaced by {newcomers}" if automatic else reason,
                )
            )

    def _record_committed_lineage(self, record: VersionRecord) -> None:
        """Note the commit that holds the files a dirty-trained version was trained on."""
        if committed := self._committed_as(record):
            self.store.set_version_tag(record.version, "lineage.committed_as", committed)
