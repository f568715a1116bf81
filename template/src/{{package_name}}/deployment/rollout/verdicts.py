"""One step's verdict: pass, fail (which objective, measured value, limit) or inconclusive.

Pure functions of what Prometheus measured, so every rule is unit-tested
without a server. "Inconclusive" is its own outcome and never a pass: a
step with fewer canary requests than ``min_requests`` is not judged at all
(a handful of requests says nothing about a p95 or an error ratio), and an
objective whose inputs are missing (no stable traffic in the window, a
serving image that does not export prediction counts) cannot pass either.
Nor can a PSI over fewer predictions than :data:`MIN_PREDICTIONS_PER_BIN`
per bin: a few rows spread over a regressor's ten buckets say nothing about
its distribution, however the PSI is smoothed.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...config import RolloutObjectives

Outcome = Literal["pass", "fail", "inconclusive"]
#: Predictions each version needs per compared bin before their PSI means anything
#: (the expected count a chi-square comparison of the same bins asks for).
MIN_PREDICTIONS_PER_BIN = 5
#: Added to every bin's count on both sides before the PSI (Jeffreys' prior): otherwise
#: a bin the canary left empty by chance counts as a major shift on its own.
PSEUDO_COUNT = 0.5
#: How served predictions are counted: per class, or a cumulative histogram by ``le`` edge.
DistributionKind = Literal["classes", "cumulative"]


@dataclass(frozen=True)
class Distribution:
    """The canary's and the stable version's served predictions over the same window."""

    kind: DistributionKind
    stable: Mapping[str, float]
    canary: Mapping[str, float]


@dataclass(frozen=True)
class Measurements:
    """What one step measured, and the queries that measured it (for the audit trail)."""

    window_seconds: float
    canary_requests: float
    canary_errors: float
    canary_p95: float | None
    stable_p95: float | None
    #: ``None`` when the servers export no prediction distribution.
    predictions: Distribution | None
    queries: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ObjectiveResult:
    """One objective at one step."""

    name: str
    outcome: Outcome
    value: float | None
    limit: float
    note: str = ""

    def describe(self) -> str:
        """``latency_ratio 8.21 > 1.5: fail`` or ``psi inconclusive (why)``."""
        if self.value is None:
            return f"{self.name} {self.outcome} ({self.note})"
        sign = "<=" if self.outcome == "pass" else ">"
        return f"{self.name} {self.value:.4g} {sign} {self.limit:g}: {self.outcome}"


@dataclass(frozen=True)
class StepVerdict:
    """The step's outcome, why, and every objective behind it."""

    outcome: Outcome
    reason: str
    objectives: tuple[ObjectiveResult, ...]

    def describe(self) -> str:
        """One line: the outcome, why, and every objective's value and limit."""
        details = "; ".join(result.describe() for result in self.objectives)
        return f"{self.outcome}: {self.reason}" + (f" [{details}]" if details else "")


def judge(
    measured: Measurements, objectives: RolloutObjectives, *, min_requests: int
) -> StepVerdict:
    """The verdict of one step; every objective is evaluated, so the record shows them all."""
    results = tuple(
        result
        for result in (
            _error_ratio(measured, objectives.max_error_ratio),
            _latency_ratio(measured, objectives.max_latency_ratio),
            _psi(measured.predictions, objectives.max_psi),
        )
        if result is not None
    )
    if measured.canary_requests < min_requests:
        reason = (
            f"{measured.canary_requests:.0f} canary prediction requests in "
            f"{measured.window_seconds:.0f} s, fewer than min_requests {min_requests}"
        )
        return StepVerdict("inconclusive", reason, results)
    failed = [result.name for result in results if result.outcome == "fail"]
    if failed:
        return StepVerdict("fail", f"objective violated: {', '.join(failed)}", results)
    unknown = [result.name for result in results if result.outcome == "inconclusive"]
    if unknown:
        return StepVerdict("inconclusive", f"cannot measure: {', '.join(unknown)}", results)
    return StepVerdict("pass", "every objective met", results)


def _compare(name: str, value: float, limit: float) -> ObjectiveResult:
    return ObjectiveResult(name, "pass" if value <= limit else "fail", value, limit)


def _error_ratio(measured: Measurements, limit: float | None) -> ObjectiveResult | None:
    if limit is None:
        return None
    if measured.canary_requests <= 0:
        return ObjectiveResult("error_ratio", "inconclusive", None, limit, "no canary requests")
    return _compare("error_ratio", measured.canary_errors / measured.canary_requests, limit)


def _latency_ratio(measured: Measurements, limit: float | None) -> ObjectiveResult | None:
    if limit is None:
        return None
    canary, stable = measured.canary_p95, measured.stable_p95
    if canary is None or stable is None or stable <= 0:
        missing = "canary" if canary is None else "stable version"
        note = f"no {missing} p95 latency in the window"
        return ObjectiveResult("latency_ratio", "inconclusive", None, limit, note)
    return _compare("latency_ratio", canary / stable, limit)


def _psi(predictions: Distribution | None, limit: float | None) -> ObjectiveResult | None:
    if limit is None:
        return None
    if predictions is None:
        note = "the servers export no prediction distribution"
        return ObjectiveResult("psi", "inconclusive", None, limit, note)
    counts = (
        class_counts(predictions.stable, predictions.canary)
        if predictions.kind == "classes"
        else bin_counts(predictions.stable, predictions.canary)
    )
    if counts is None:
        note = "no predictions of both versions to compare"
        return ObjectiveResult("psi", "inconclusive", None, limit, note)
    needed = MIN_PREDICTIONS_PER_BIN * len(counts[0])
    fewest = min(sum(counts[0]), sum(counts[1]))
    if fewest < needed:
        note = f"{fewest:.0f} predictions over {len(counts[0])} bins, fewer than {needed}"
        return ObjectiveResult("psi", "inconclusive", None, limit, note)
    return _compare("psi", psi_from_counts(*counts), limit)


def psi_from_counts(stable: Sequence[float], canary: Sequence[float]) -> float:
    """PSI of the canary's counts against the stable version's, with :data:`PSEUDO_COUNT` per bin.

    ``sum((c - s) * ln(c / s))`` over bin shares, as ``just drift`` computes it,
    but smoothed: ``just drift`` compares whole batches, a canary step a few
    hundred predictions, which leave thin bins empty by chance.
    """
    smoothed_stable = np.asarray(stable, dtype=np.float64) + PSEUDO_COUNT
    smoothed_canary = np.asarray(canary, dtype=np.float64) + PSEUDO_COUNT
    stable_shares = smoothed_stable / smoothed_stable.sum()
    canary_shares = smoothed_canary / smoothed_canary.sum()
    return float(np.sum((canary_shares - stable_shares) * np.log(canary_shares / stable_shares)))


def class_counts(
    stable: Mapping[str, float], canary: Mapping[str, float]
) -> tuple[list[float], list[float]] | None:
    """Counts per class over every class either version predicted; ``None`` if one is empty."""
    classes = sorted(set(stable) | set(canary))
    pair = [stable.get(name, 0.0) for name in classes], [canary.get(name, 0.0) for name in classes]
    return pair if sum(pair[0]) > 0 and sum(pair[1]) > 0 else None


def bin_counts(
    stable: Mapping[str, float], canary: Mapping[str, float]
) -> tuple[list[float], list[float]] | None:
    """Per-bin counts from two cumulative histograms, over the ``le`` edges both export.

    Cumulative buckets make this exact: the count between two shared edges is
    the difference of the two cumulative counts, whatever edges lie between.
    """
    edges = sorted(set(stable) & set(canary), key=_edge)
    if not edges or not math.isinf(_edge(edges[-1])):
        return None

    def per_bin(cumulative: Mapping[str, float]) -> list[float]:
        values = [cumulative[edge] for edge in edges]
        return [max(now - before, 0.0) for before, now in zip([0.0, *values], values, strict=False)]

    pair = per_bin(stable), per_bin(canary)
    return pair if sum(pair[0]) > 0 and sum(pair[1]) > 0 else None


def _edge(text: str) -> float:
    return float(text)  # Prometheus writes the last edge as "+Inf", which float() reads
