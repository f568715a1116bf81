"""The retraining decision: state + observation + configuration + clock -> :class:`Decision`.

:func:`decide` is pure: it asks every configured trigger about the window,
applies the cooldown, and returns what to do, why, and the state to keep.
Reading the registry, running the pipeline and promoting are
:mod:`.retrain`'s job, so every rule here is tested with plain values.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..config import RetrainingConfig
from .observation import Observation
from .policy_state import PolicyState
from .triggers import Firing, Window, build_triggers


@dataclass(frozen=True)
class Decision:
    """Whether to retrain now, which triggers fired, and the state to persist."""

    retrain: bool
    #: Triggers that fired and are not held back by the cooldown.
    fired: tuple[Firing, ...]
    #: One line: why the model is retrained, or why not.
    summary: str
    #: The state after this window (with the retrain recorded when ``retrain``).
    state: PolicyState

    @property
    def triggers(self) -> str:
        """Names of the triggers that fired, comma-separated (``drift,performance``)."""
        return ",".join(firing.trigger for firing in self.fired)


def decide(
    state: PolicyState, observation: Observation, config: RetrainingConfig, now: datetime
) -> Decision:
    """Judge one window.

    A new champion restarts the memories (its own training data is the new
    reference). Triggers that fire during the cooldown are reported but
    wait, except a forced retrain.
    """
    if observation.champion != state.champion:
        state = PolicyState(
            champion=observation.champion,
            last_retrain_at=state.last_retrain_at,
            last_retrain=state.last_retrain,
        )
    triggers = build_triggers(config)
    window = Window(observation, now, state.last_retrain_at)
    verdicts = {
        trigger: trigger.evaluate(window, state.memory(trigger.name)) for trigger in triggers
    }
    observed = replace(
        state,
        windows=state.windows + 1,
        memories={trigger.name: verdict.memory for trigger, verdict in verdicts.items()},
    )
    until = state.cooldown_until(timedelta(hours=config.cooldown_hours))
    cooling = until is not None and now < until
    fired = [verdict.firing for verdict in verdicts.values() if verdict.firing is not None]
    allowed = tuple(
        verdict.firing
        for trigger, verdict in verdicts.items()
        if verdict.firing is not None and not (cooling and trigger.respects_cooldown)
    )
    if allowed:
        what = ",".join(firing.trigger for firing in allowed)
        names = [trigger.name for trigger in triggers]
        summary = "; ".join(firing.reason for firing in allowed)
        return Decision(True, allowed, summary, observed.retrained(now, what, names))
    if fired and until is not None:
        held = "; ".join(firing.reason for firing in fired)
        summary = f"{held}; but retrains wait until {until:%Y-%m-%d %H:%M} UTC (cooldown)"
    else:
        summary = "; ".join(verdict.status for verdict in verdicts.values())
    return Decision(False, (), summary, observed)
