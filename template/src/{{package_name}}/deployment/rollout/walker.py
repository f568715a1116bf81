"""The step walker: set a share, wait, measure, judge, then go on, roll back or stop.

Pure logic over three collaborators (what measures, what acts, a clock), so
every path (a pass at every step, a violation, a step that never gets
enough traffic, a Ctrl-C) is unit-tested without Prometheus or a cluster.
Every action and verdict is recorded through ``actions.record`` before the
walker moves on, so the audit trail is complete wherever a rollout ends.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from ...config import RolloutConfig
from .verdicts import Measurements, StepVerdict, judge

Status = Literal["promoted", "rolled-back", "inconclusive"]


class Metrics(Protocol):
    """Measures the canary against the stable version over a window."""

    def measure(self, window_seconds: float) -> Measurements: ...  # noqa: D102


class Actions(Protocol):
    """What a rollout does to the world: traffic, the registry, the record."""

    def set_traffic(self, percent: int) -> None: ...  # noqa: D102
    def roll_back(self) -> None: ...  # noqa: D102
    def promote(self) -> str | None:
        """Promote through the gates and deploy to all traffic; why not, if refused."""

    def record(self, action: str, detail: str) -> None: ...  # noqa: D102


@dataclass(frozen=True)
class Judged:
    """One verdict of one step (a step judged inconclusive may be judged again)."""

    step: int
    percent: int
    window_seconds: float
    verdict: StepVerdict
    measurements: Measurements


@dataclass(frozen=True)
class RolloutResult:
    """How a rollout ended, and every verdict on the way."""

    status: Status
    #: Canary share of the traffic at the end: 0 after a rollback, 100 once promoted.
    percent: int
    judged: tuple[Judged, ...]
    summary: str


class RolloutInterrupted(KeyboardInterrupt):
    """Ctrl-C during a rollout, with where it left the canary (recorded before raising)."""

    def __init__(self, step: int, percent: int) -> None:
        super().__init__(step, percent)
        self.step = step
        self.percent = percent


def walk(
    config: RolloutConfig,
    metrics: Metrics,
    actions: Actions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RolloutResult:
    """Walk the canary through ``config.steps``; promote it only if every step passes.

    A failed objective rolls it back at once. A step that stays inconclusive
    after ``inconclusive_waits`` extra waits stops the rollout without a
    promotion, leaving the canary as ``on_inconclusive`` says.

    A promotion the gates refuse rolls the canary back too.

    Raises:
        RolloutInterrupted: Ctrl-C; the interruption is recorded first.
        Exception: whatever stopped a collaborator (Prometheus gone, kubectl failing),
            recorded first as an interruption, with where it left the canary.
    """
    judged: list[Judged] = []
    canary_steps = config.steps[:-1]
    count = len(canary_steps)
    step, percent = 0, 0
    try:
        for step, share in enumerate(canary_steps, start=1):
            actions.set_traffic(share)
            percent = share
            actions.record("rollout-step", f"step {step}/{count}: canary at {share}% of traffic")
            started = clock()
            attempt = 0
            while True:
                sleep(config.wait_seconds)
                window = clock() - started
                measured = metrics.measure(window)
                verdict = judge(measured, config.objectives, min_requests=config.min_requests)
                judged.append(Judged(step, share, window, verdict, measured))
                actions.record("rollout-verdict", _verdict_detail(judged[-1], count, attempt))
                if verdict.outcome != "inconclusive" or attempt >= config.inconclusive_waits:
                    break
                attempt += 1
            if verdict.outcome == "fail":
                actions.roll_back()
                percent = 0
                summary = f"step {step} ({share}%) failed: {verdict.describe()}; rolled back to 0%"
                actions.record("rollout-rolled-back", summary)
                return RolloutResult("rolled-back", 0, tuple(judged), summary)
            if verdict.outcome == "inconclusive":
                return _stop_inconclusive(
                    config, actions, step=step, share=share, verdict=verdict, judged=judged
                )
        refused = actions.promote()
        if refused is not None:
            actions.roll_back()
            summary = f"passed every step, but the promotion was refused: {refused}; rolled back"
            actions.record("rollout-rolled-back", summary)
            return RolloutResult("rolled-back", 0, tuple(judged), summary)
    except KeyboardInterrupt:
        where = f"step {step} at {percent}%" if step else "before the first step"
        actions.record("rollout-interrupted", f"interrupted {where}; the canary keeps {percent}%")
        raise RolloutInterrupted(step, percent) from None
    except Exception as exc:
        where = f"step {step} at {percent}%" if step else "before the first step"
        stop = f"stopped by an error {where}; the canary keeps {percent}%: {exc}"
        actions.record("rollout-interrupted", stop)
        raise
    summary = f"passed {count} step(s) ({', '.join(map(str, canary_steps))}%); promoted to 100%"
    actions.record("rollout-promoted", summary)
    return RolloutResult("promoted", 100, tuple(judged), summary)


def _stop_inconclusive(
    config: RolloutConfig,
    actions: Actions,
    *,
    step: int,
    share: int,
    verdict: StepVerdict,
    judged: list[Judged],
) -> RolloutResult:
    waits = config.inconclusive_waits + 1
    summary = f"step {step} ({share}%) inconclusive after {waits} wait(s): {verdict.reason}"
    if config.on_inconclusive == "rollback":
        actions.roll_back()
        summary += "; not promoted, rolled back to 0%"
        share = 0
    else:
        summary += f"; not promoted, the canary is held at {share}%"
    actions.record("rollout-inconclusive", summary)
    return RolloutResult("inconclusive", share, tuple(judged), summary)


def _verdict_detail(item: Judged, count: int, attempt: int) -> str:
    queries = "; ".join(f"{query} => {answer}" for query, answer in item.measurements.queries)
    return (
        f"step {item.step}/{count} at {item.percent}%, wait {attempt + 1}, "
        f"window {item.window_seconds:.0f} s: {item.verdict.describe()}"
        + (f"; queries: {queries}" if queries else "")
    )
