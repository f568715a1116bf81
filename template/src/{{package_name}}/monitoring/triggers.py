"""Retraining triggers: each turns one kind of evidence into "retrain now" or a status line.

A trigger is a small pure object. Given the current :class:`Window` and its
own :class:`SignalMemory` of earlier windows, it returns a :class:`Verdict`:
whether it fires (and why, in words and as tags) and its memory after this
window. Triggers are interchangeable behind :class:`Trigger`, so adding one
(say, a label-delay or a data-volume trigger) means one class and one line
in :func:`build_triggers`.

Noise protection lives here too. The drift and performance triggers fire
only on consecutive breaching windows (or a smoothed metric), and after a
retrain they stay *disarmed* until their signal has clearly recovered — a
``no_drift`` batch, or the metric ``recovery_margin`` past the threshold — or
a new champion resets the policy. A signal hovering around its threshold
therefore cannot retrain the model again and again.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import ClassVar

from ..config import HIGHER_IS_BETTER, PerformanceTriggerConfig, RetrainingConfig
from .observation import Observation


@dataclass(frozen=True)
class Firing:
    """A trigger that fired: its name, one line of why, and the facts to record as tags."""

    trigger: str
    reason: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalMemory:
    """What a trigger remembers between windows (persisted in the policy state)."""

    #: Breaching windows in a row, up to and including the last one.
    streak: int = 0
    #: Windows this trigger has judged (the EWMA's warm-up).
    seen: int = 0
    #: Exponentially weighted moving average of the metric, once one was seen.
    smoothed: float | None = None
    #: ``False`` after a retrain, until the signal has clearly recovered.
    armed: bool = True

    def disarmed(self) -> "SignalMemory":
        """The memory right after a retrain: nothing counted, waiting for recovery."""
        return SignalMemory(armed=False)


@dataclass(frozen=True)
class Window:
    """One window as a trigger sees it: the observation and the clock."""

    observation: Observation
    now: datetime
    last_retrain_at: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    """A trigger's answer for one window."""

    memory: SignalMemory
    #: Set when the trigger fires.
    firing: Firing | None = None
    #: Why it did not fire (or where it stands), for the "not retraining" line.
    status: str = ""


class Trigger(ABC):
    """One reason to retrain."""

    #: Key of the trigger in tags, the state and messages.
    name: ClassVar[str]
    #: Whether the cooldown after a retrain holds this trigger back.
    respects_cooldown: ClassVar[bool] = True

    @abstractmethod
    def evaluate(self, window: Window, memory: SignalMemory) -> Verdict:
        """Judge ``window`` given what this trigger remembered from earlier windows."""


class ForcedTrigger(Trigger):
    """A business event (``--force --reason ...``): a deliberate decision, never held back."""

    name = "forced"
    respects_cooldown = False

    def evaluate(self, window: Window, memory: SignalMemory) -> Verdict:  # noqa: D102
        if not window.observation.forced:
            return Verdict(memory, status="not forced")
        reason = window.observation.reason
        return Verdict(memory, Firing(self.name, f"forced: {reason}", {"reason": reason}))


class ScheduleTrigger(Trigger):
    """The model has not been renewed for ``max_age``, whatever the monitoring says."""

    name = "schedule"

    def __init__(self, max_age: timedelta) -> None:
        self.max_age = max_age

    def evaluate(self, window: Window, memory: SignalMemory) -> Verdict:  # noqa: D102
        renewed = [
            moment
            for moment in (window.observation.champion_registered_at, window.last_retrain_at)
            if moment is not None
        ]
        if not renewed:
            return Verdict(memory, status="schedule: no champion to age")
        age = window.now - max(renewed)
        days, limit = _days(age), _days(self.max_age)
        if age < self.max_age:
            return Verdict(memory, status=f"schedule: model {days} of {limit} days old")
        reason = f"schedule: model is {days} days old (limit {limit})"
        return Verdict(memory, Firing(self.name, reason, {"age_days": days}))


class DriftTrigger(Trigger):
    """The drift check said ``drift`` on ``windows`` batches in a row.

    ``investigate`` and ``no_drift`` break the run; ``insufficient_data`` is
    no evidence either way and leaves the memory as it was.
    """

    name = "drift"

    def __init__(self, windows: int) -> None:
        self.windows = windows

    def evaluate(self, window: Window, memory: SignalMemory) -> Verdict:  # noqa: D102
        drift = window.observation.drift
        if drift is None:
            return Verdict(memory, status="drift: no batch given")
        if drift.verdict == "insufficient_data":
            return Verdict(memory, status="drift: too few rows, batch not counted")
        streak = memory.streak + 1 if drift.verdict == "drift" else 0
        armed = memory.armed or drift.verdict == "no_drift"
        after = replace(memory, streak=streak, seen=memory.seen + 1, armed=armed)
        if not armed:
            return Verdict(after, status="drift: waiting for a no_drift batch since the retrain")
        if streak < self.windows:
            status = f"drift: {drift.verdict} ({streak} of {self.windows} drifted batches in a row)"
            return Verdict(after, status=status)
        features = ", ".join(drift.drifted) or "-"
        reason = f"drift: {streak} drifted batches in a row (features: {features})"
        details = {"windows": str(streak), "features": ",".join(drift.drifted)}
        return Verdict(after, Firing(self.name, reason, details))


class PerformanceTrigger(Trigger):
    """The champion scored worse than the threshold on labelled batches, persistently."""

    name = "performance"

    def __init__(self, config: PerformanceTriggerConfig) -> None:
        self.config = config
        self.higher_is_better = HIGHER_IS_BETTER[config.metric]

    def evaluate(self, window: Window, memory: SignalMemory) -> Verdict:  # noqa: D102
        value = window.observation.performance
        config = self.config
        if value is None:
            return Verdict(memory, status="performance: no labelled batch")
        smoothed = (
            value
            if memory.smoothed is None
            else config.ewma_alpha * value + (1 - config.ewma_alpha) * memory.smoothed
        )
        level = smoothed if config.smoothing == "ewma" else value
        breach = self._worse(level, config.threshold)
        streak = memory.streak + 1 if breach else 0
        margin = config.recovery_margin if self.higher_is_better else -config.recovery_margin
        armed = memory.armed or not self._worse(level, config.threshold + margin)
        after = SignalMemory(streak=streak, seen=memory.seen + 1, smoothed=smoothed, armed=armed)
        judged = f"{config.metric} {level:.4g}" + (" (EWMA)" if config.smoothing == "ewma" else "")
        if not armed:
            recovery = config.threshold + margin
            status = f"performance: {judged}, waiting for {recovery:.4g} since the retrain"
            return Verdict(after, status=status)
        due = streak >= config.windows if config.smoothing == "consecutive" else breach
        if not due or after.seen < config.windows:
            status = f"performance: {judged}, threshold {config.threshold:g} ({streak} breaching)"
            return Verdict(after, status=status)
        reason = (
            f"performance: {judged} worse than {config.threshold:g} "
            f"({streak} labelled batches in a row)"
        )
        details = {"metric": config.metric, "value": f"{level:.6g}", "windows": str(streak)}
        return Verdict(after, Firing(self.name, reason, details))

    def _worse(self, value: float, bound: float) -> bool:
        return value < bound if self.higher_is_better else value > bound


def build_triggers(config: RetrainingConfig) -> list[Trigger]:
    """The triggers ``params.yaml`` turns on, forced first (it needs no evidence)."""
    triggers: list[Trigger] = [ForcedTrigger()]
    if config.schedule is not None:
        triggers.append(ScheduleTrigger(timedelta(days=config.schedule.max_age_days)))
    if config.drift is not None:
        triggers.append(DriftTrigger(config.drift.windows))
    if config.performance is not None:
        triggers.append(PerformanceTrigger(config.performance))
    return triggers


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f}"
