"""The retraining policy's memory, and why it is kept in the model registry.

Consecutive-window rules, smoothing, re-arming and the cooldown all need to
remember earlier windows, and the windows arrive from different processes:
a scheduled CI job today, someone's laptop tomorrow. The state is therefore
one JSON document in a tag of the registered model (``retraining.state``):

- it lives with the models it is about: CI jobs and every clone that talk
  to the same tracking server share it, with nothing to commit back or cache;
- a project's own SQLite store (``mlflow.db``, in the project directory)
  keeps it too, so a moved or copied project keeps its policy, and the tag
  holds no path at all;
- the state and the registry can never disagree (a state file in git could
  claim a cooldown for a retrain whose version a fresh registry never saw);
- one tag write replaces the whole document, so a reader sees either the old
  or the new state, never half of one. Read-modify-write happens under the
  registry's lock (:mod:`.retrain`).
"""

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..errors import RegistryError
from .triggers import SignalMemory

#: Registered-model tag that holds the state.
STATE_TAG = "retraining.state"
#: Bumped when the document's shape changes incompatibly.
SCHEMA = 1


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between windows, for the champion it watches."""

    #: The champion the memories are about; a new champion starts afresh.
    champion: str | None = None
    #: When the last retrain started (the cooldown and the schedule count from it).
    last_retrain_at: datetime | None = None
    #: What the last retrain was: its triggers, then its version or failure.
    last_retrain: str = ""
    #: ``<host>:<pid>`` of the retrain running now; empty once it registered or failed.
    running: str = ""
    #: Windows judged since the state was started for this champion.
    windows: int = 0
    #: Each trigger's memory, by trigger name.
    memories: Mapping[str, SignalMemory] = field(default_factory=dict)

    def memory(self, trigger: str) -> SignalMemory:
        """The memory of ``trigger`` (fresh and armed if it never judged a window)."""
        return self.memories.get(trigger, SignalMemory())

    def cooldown_until(self, cooldown: timedelta) -> datetime | None:
        """When automatic triggers may retrain again, if a retrain happened."""
        return None if self.last_retrain_at is None else self.last_retrain_at + cooldown

    def retrained(self, at: datetime, what: str, triggers: list[str]) -> "PolicyState":
        """The state once a retrain started: cooldown from ``at``, ``triggers`` disarmed."""
        memories = {name: self.memory(name).disarmed() for name in triggers}
        return replace(self, last_retrain_at=at, last_retrain=what, memories=memories)

    def to_json(self) -> str:
        """Compact JSON for the registry tag."""
        data: dict[str, Any] = asdict(self)
        data["schema"] = SCHEMA
        if self.last_retrain_at is not None:
            data["last_retrain_at"] = self.last_retrain_at.isoformat()
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "PolicyState":
        """Parse :meth:`to_json`'s output.

        Raises:
            RegistryError: the document is not a policy state of this schema.
        """
        try:
            data = json.loads(text)
            if data.pop("schema") != SCHEMA:
                raise ValueError(f"schema is not {SCHEMA}")
            at = data.pop("last_retrain_at")
            memories = {
                name: SignalMemory(**memory) for name, memory in data.pop("memories").items()
            }
            return cls(
                last_retrain_at=None if at is None else datetime.fromisoformat(at),
                memories=memories,
                **data,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise RegistryError(
                f"The registry tag {STATE_TAG} is not a retraining policy state ({exc}); "
                f"reset it with `just retrain --reset-state`."
            ) from None


def read_state(model_tags: Mapping[str, str]) -> PolicyState:
    """The state stored in the registered model's tags (a fresh one if none is)."""
    text = model_tags.get(STATE_TAG)
    return PolicyState() if text is None else PolicyState.from_json(text)
