"""Recording a canary rollout's steps, verdicts and outcome in the audit trail.

A rollout changes no stage by itself (its promotion goes through
:meth:`~.transitions.StageTransitions.promote` and its gates), so its events
carry the version's stage unchanged, and replaying the trail still gives
every version's stage. They are written under the registry lock like every
other event, so they interleave in order with promotions and rollbacks.
"""

from ..errors import RegistryError
from . import audit
from .writing import RegistryWriter

#: Longest event detail kept (a verdict lists every query it ran with its answer).
MAX_DETAIL_LENGTH = 8000


class RolloutEvents(RegistryWriter):
    """The audit events of ``just rollout``."""

    def record_rollout(self, ref: str, action: str, detail: str, *, by: str | None = None) -> str:
        """Append one rollout event for version ``ref``; returns the version's semver.

        Raises:
            RegistryError: not a rollout action.
            ModelNotFoundError: ``ref`` names no version.
        """
        if action not in audit.ROLLOUT_ACTIONS:
            raise RegistryError(
                f"{action!r} is not a rollout event; accepted: {', '.join(audit.ROLLOUT_ACTIONS)}."
            )
        if len(detail) > MAX_DETAIL_LENGTH:
            detail = f"{detail[: MAX_DETAIL_LENGTH - 12]} [truncated]"
        with self._locked():
            record = self.get(ref)
            self._audit(
                audit.event(
                    action,
                    record.semver,
                    from_stage=record.stage,
                    to_stage=record.stage,
                    by=by,
                    reason=detail,
                )
            )
            return record.semver
