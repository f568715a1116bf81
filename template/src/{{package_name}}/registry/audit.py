"""The audit trail: who moved which version where, when and why — and what it implies.

Events are registered-model tags numbered in order (``audit.000000000001``…),
written under the registry lock, so the trail is a total order that
:func:`replay` turns back into the stage of every version. That makes the
trail checkable (it must always replay to the registry's current state) and
gives rollback its memory: :func:`production_history` is the stack of
versions that held production, which rollback walks back along.
"""

import getpass
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from ..errors import RegistryError
from .records import AUDIT_PREFIX, AuditEvent

#: What ``just rollout`` records: each step, each verdict (with its queries) and how it ended.
ROLLOUT_ACTIONS = (
    "rollout-started",
    "rollout-step",
    "rollout-verdict",
    "rollout-rolled-back",
    "rollout-inconclusive",
    "rollout-interrupted",
    "rollout-promoted",
)
#: Actions that write an event; ``displace`` is the champion or challenger a move pushed out.
ACTIONS = (
    "register",
    "promote",
    "demote",
    "archive",
    "rollback",
    "displace",
    "drift-check-passed",
    "drift-check-failed",
    *ROLLOUT_ACTIONS,
)
_SEQUENCE_DIGITS = 12
#: Longest ``--reason`` accepted: it is stored in a registry tag.
MAX_REASON_LENGTH = 1000


def current_user() -> str:
    """Who is acting: ``MODEL_REGISTRY_USER``, else the login name."""
    return os.environ.get("MODEL_REGISTRY_USER") or getpass.getuser()


def event(
    action: str,
    version: str,
    *,
    from_stage: str | None,
    to_stage: str | None,
    by: str | None = None,
    reason: str = "",
) -> AuditEvent:
    """A new event stamped now, by ``by`` or the current user."""
    return AuditEvent(
        at=datetime.now(tz=UTC).isoformat(timespec="seconds"),
        by=by or current_user(),
        action=action,
        version=version,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason,
    )


def check_reason(reason: str) -> None:
    """Refuse a reason too long to store, before anything changes.

    Raises:
        RegistryError: longer than :data:`MAX_REASON_LENGTH`.
    """
    if len(reason) > MAX_REASON_LENGTH:
        raise RegistryError(
            f"--reason is {len(reason)} characters; the registry keeps at most "
            f"{MAX_REASON_LENGTH}. Shorten it (link to a document for details)."
        )


def _order(key: str) -> tuple[int, str]:
    """Numbered keys follow legacy timestamp keys (``audit.20260101T…``) of older releases."""
    suffix = key.removeprefix(AUDIT_PREFIX)
    return (1, suffix) if suffix.isdigit() else (0, suffix)


def read(tags: Mapping[str, str]) -> list[AuditEvent]:
    """Events stored in registered-model ``tags``, oldest first."""
    keys = sorted((key for key in tags if key.startswith(AUDIT_PREFIX)), key=_order)
    return [AuditEvent.from_tag_value(tags[key]) for key in keys]


def next_key(tags: Mapping[str, str]) -> str:
    """The tag key of the next event (call under the registry lock)."""
    numbers = [
        int(key.removeprefix(AUDIT_PREFIX))
        for key in tags
        if key.startswith(AUDIT_PREFIX) and key.removeprefix(AUDIT_PREFIX).isdigit()
    ]
    return f"{AUDIT_PREFIX}{max(numbers, default=0) + 1:0{_SEQUENCE_DIGITS}d}"


def replay(events: Iterable[AuditEvent]) -> dict[str, str]:
    """The stage of every version that the events imply, keyed by semantic version."""
    stages: dict[str, str] = {}
    for item in events:
        if item.to_stage is not None:
            stages[item.version] = item.to_stage
    return stages


def production_history(events: Iterable[AuditEvent]) -> list[str]:
    """Versions that held production, oldest first, as rollback may walk back along them.

    A promotion to production pushes a version; a rollback returns to an
    earlier entry and drops everything after it (so a second rollback goes
    further back, never forward again); a version taken out of production
    on purpose (demoted or archived) leaves the history. A version displaced
    by a newer champion stays: it is what rollback returns to.
    """
    stack: list[str] = []
    for item in events:
        if item.action == "promote" and item.to_stage == "production":
            stack = [version for version in stack if version != item.version] + [item.version]
        elif item.action == "rollback" and item.version in stack:
            stack = stack[: stack.index(item.version) + 1]
        elif item.action == "rollback":
            stack.append(item.version)
        elif item.action in {"demote", "archive"}:
            stack = [version for version in stack if version != item.version]
    return stack


def rollback_candidates(history: Sequence[str], champion: str | None) -> list[str]:
    """Earlier production versions, newest first, that rollback may return to."""
    earlier = list(history)
    if champion is not None and earlier and earlier[-1] == champion:
        earlier.pop()
    return [version for version in reversed(earlier) if version != champion]
