"""``just retrain``: judge one window; when the policy says so, retrain and promote to staging.

The order keeps the registry consistent and loops impossible:

1. Under the registry lock, read the policy state, :func:`~.policy.decide`,
   and write the new state — with the retrain already recorded when there
   is one, so a second ``just retrain`` started meanwhile sees the cooldown.
2. Run the pipeline (passed in as :data:`RunPipeline`: monitoring stands on
   the registry and the policy, never on the pipeline package).
3. Tag the new version with why it exists (``retrain.*`` tags: triggers,
   reason, drifted features and their scores), then promote it to staging
   through the gates with the same reason, which the audit trail keeps.

A failed pipeline still counts as a retrain for the cooldown (its state
says ``failed``), so a broken pipeline cannot be restarted by every
scheduled check; ``--force`` retries at once. While a retrain runs, its
claim in the state makes any other ``just retrain`` (forced ones included)
do nothing and say so, rather than register a second, identical version. :class:`RetrainOutcome` is
what a caller reports and counts.
"""

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..errors import GateFailedError, ProvenanceError
from ..registry.records import VersionRecord
from ..registry.service import MAX_REASON_LENGTH, ModelRegistry
from .observation import Observation
from .policy import Decision, decide
from .policy_state import STATE_TAG, PolicyState, read_state

RunPipeline = Callable[[], str]
"""Retrain on the current data and register the model in development; return its version."""

#: Prefix of the version tags that say why a version was retrained.
TAG_PREFIX = "retrain."
#: Drifted features whose scores are kept in ``retrain.scores`` (the tag's size is bounded).
MAX_SCORED_FEATURES = 25
#: A running retrain claimed longer ago than this (on another host) is presumed dead.
STALE_CLAIM = timedelta(hours=6)


@dataclass(frozen=True)
class RetrainOutcome:
    """What ``just retrain`` did."""

    decision: Decision
    #: The retrained version, when the policy retrained (in staging unless refused).
    version: VersionRecord | None = None
    #: Why the gates refused the retrained version for staging, if they did.
    refused: str = ""


def judge_and_retrain(
    registry: ModelRegistry,
    observation: Observation,
    now: datetime,
    run_pipeline: RunPipeline,
    *,
    by: str | None = None,
) -> RetrainOutcome:
    """Decide on ``observation``; retrain, tag and promote when a trigger fired."""
    with _locked_state(registry) as state:
        if busy := _running_elsewhere(state, now):
            return RetrainOutcome(Decision(False, (), busy, state))
        decision = decide(state, observation, registry.params.retraining, now)
        claimed = replace(decision.state, running=_this_process())
        _write(registry, claimed if decision.retrain else decision.state)
    if not decision.retrain:
        return RetrainOutcome(decision)
    try:
        semver = run_pipeline()
    except BaseException:
        _note_last_retrain(registry, f"{decision.triggers}: failed")
        raise
    record = registry.get(semver)
    for key, value in retrain_tags(decision, observation, now).items():
        registry.store.set_version_tag(record.version, key, value)
    refused = ""
    if record.stage == "development":
        reason = _bounded(f"retrain: {decision.summary}")
        try:
            registry.promote(semver, "staging", by=by, reason=reason)
        except (GateFailedError, ProvenanceError) as exc:
            refused = str(exc)
    _note_last_retrain(registry, f"{decision.triggers}: {semver}")
    return RetrainOutcome(decision, registry.get(semver), refused)


def reset_state(registry: ModelRegistry) -> None:
    """Forget every window, streak and cooldown (the registry's versions are untouched)."""
    with _locked_state(registry):
        _write(registry, PolicyState())


def retrain_tags(decision: Decision, observation: Observation, now: datetime) -> dict[str, str]:
    """The ``retrain.*`` version tags: which triggers, why, which features, which scores."""
    tags = {
        f"{TAG_PREFIX}trigger": decision.triggers,
        f"{TAG_PREFIX}reason": _bounded(decision.summary),
        f"{TAG_PREFIX}at": now.isoformat(timespec="seconds"),
    }
    for firing in decision.fired:
        for key, value in firing.details.items():
            tags[f"{TAG_PREFIX}{firing.trigger}.{key}"] = _bounded(value)
    scores: dict[str, object] = {}
    if observation.drift is not None:
        drifted = observation.drift.drifted[:MAX_SCORED_FEATURES]
        tags[f"{TAG_PREFIX}features"] = ",".join(drifted)
        scores["drift_verdict"] = observation.drift.verdict
        scores["features"] = {
            name: dict(observation.drift.scores.get(name, {})) for name in drifted
        }
    if observation.performance is not None:
        scores["performance"] = observation.performance
    if scores:
        tags[f"{TAG_PREFIX}scores"] = json.dumps(scores, sort_keys=True)
    return tags


@contextmanager
def _locked_state(registry: ModelRegistry) -> Iterator[PolicyState]:
    """Hold the registry lock over a read-modify-write of the policy state."""
    from ..registry.locking import registry_lock  # noqa: PLC0415 - only changes need MLflow

    registry.store.ensure_model()
    with registry_lock(registry.name, registry.paths.registry_lock, registry.local):
        yield read_state(registry.store.model_tags())


def _write(registry: ModelRegistry, state: PolicyState) -> None:
    registry.store.set_model_tag(STATE_TAG, state.to_json())


def _note_last_retrain(registry: ModelRegistry, what: str) -> None:
    with _locked_state(registry) as state:
        _write(registry, replace(state, last_retrain=what, running=""))


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _running_elsewhere(state: PolicyState, now: datetime) -> str:
    """Why not to start a retrain while another one runs (empty: none runs).

    Two retrains started together (a scheduled job and a forced one, two CI
    runs) would train the same data twice and register two identical
    versions. The first claims the retrain in the policy state under the
    registry lock; a second sees the claim and leaves the work to it. A claim
    whose process is gone (same host), or older than :data:`STALE_CLAIM`
    (another host), is stale and does not block.
    """
    if not state.running or state.last_retrain_at is None:
        return ""
    host, _, pid = state.running.rpartition(":")
    if now - state.last_retrain_at > STALE_CLAIM:
        return ""
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return ""
    return (
        f"a retrain ({state.last_retrain}) started at {state.last_retrain_at:%Y-%m-%d %H:%M:%S} "
        f"UTC by {state.running} is still running; it registers and promotes the new version, "
        "so this one does nothing (`just models list` shows it when done)"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _bounded(text: str) -> str:
    """Fit a registry tag and an audit reason (at most :data:`MAX_REASON_LENGTH` characters)."""
    return text if len(text) <= MAX_REASON_LENGTH else text[: MAX_REASON_LENGTH - 1] + "…"
