"""What every change to the registry shares: the lock, the audit event, the check afterwards.

Registering (:mod:`.registration`), moving versions between stages
(:mod:`.transitions`) and recording drift checks (:mod:`.drift_status`) each
take the registry lock for one read-modify-write, write one audit event per
change, and end by checking that stages, aliases and the replayed audit
trail still agree, so a change made behind the lock's back is reported.
"""

from contextlib import AbstractContextManager

from ..errors import RegistryError
from . import audit, stages
from .reading import RegistryReader
from .records import AuditEvent, VersionRecord


class RegistryWriter(RegistryReader):
    """A registry that can be changed; the operations live in its subclasses."""

    def _locked(self) -> AbstractContextManager[None]:
        from .locking import registry_lock  # noqa: PLC0415 - only changes take the lock

        self.store  # noqa: B018 - configure MLflow before the lock needs its client
        return registry_lock(self.name, self.paths.registry_lock, self.local)

    def _audit(self, event: AuditEvent) -> None:
        self.store.set_model_tag(audit.next_key(self.reads.model_tags()), event.to_tag_value())

    def _checked(self, semver: str) -> VersionRecord:
        """Check-after-write: stages, aliases and the replayed audit trail must agree."""
        versions = self.versions()
        current = {record.semver: stages.stage_of(record) for record in versions}
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
