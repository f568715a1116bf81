"""Promotion gates: every rule a version must pass before it moves up.

Gates are evaluated in full (not first-failure) so a refusal lists every
problem at once, each with its actual value and threshold.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import HIGHER_IS_BETTER, GatesConfig
from ..errors import ConfigError, GateFailedError


@dataclass(frozen=True)
class GateResult:
    """Outcome of one gate."""

    gate: str
    passed: bool
    actual: object
    threshold: object

    def describe(self) -> str:
        """One line: gate, verdict, actual value and threshold."""
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.gate}: {verdict} (actual {self.actual}, threshold {self.threshold})"


def metric_gates(config: GatesConfig, metrics: Mapping[str, float]) -> list[GateResult]:
    """``min_<metric>`` and ``max_<metric>`` thresholds."""
    results = []
    for gate, threshold in sorted(config.thresholds().items()):
        bound, metric = gate.split("_", 1)
        if metric not in metrics:
            raise ConfigError(
                f"Gate {gate} refers to unknown metric {metric!r}; this model reports: "
                f"{', '.join(sorted(metrics))}."
            )
        actual = metrics[metric]
        passed = actual >= threshold if bound == "min" else actual <= threshold
        results.append(GateResult(gate, passed, actual, threshold))
    return results


def regression_gate(
    config: GatesConfig, metrics: Mapping[str, float], champion_metrics: Mapping[str, float] | None
) -> GateResult | None:
    """Relative loss on the primary metric against the current champion."""
    metric = config.primary_metric
    if champion_metrics is None or metric not in champion_metrics or metric not in metrics:
        return None
    baseline, actual = champion_metrics[metric], metrics[metric]
    loss = (baseline - actual) if HIGHER_IS_BETTER[metric] else (actual - baseline)
    relative = loss / abs(baseline) if baseline else loss
    return GateResult(
        "max_regression",
        relative <= config.max_regression,
        round(relative, 6),
        config.max_regression,
    )


def drift_gate(config: GatesConfig, drift_status: str | None) -> GateResult | None:
    """A passed drift check, when ``require_drift_check`` is on."""
    if not config.require_drift_check:
        return None
    return GateResult(
        "require_drift_check", drift_status == "passed", drift_status or "none", "passed"
    )


def lineage_gate(lineage: Mapping[str, str]) -> list[GateResult]:
    """Production needs a known commit, a clean tree and a data version."""
    return [
        GateResult(
            "lineage.git_sha",
            bool(lineage.get("git_sha")),
            lineage.get("git_sha") or "missing",
            "present",
        ),
        GateResult(
            "lineage.git_dirty",
            lineage.get("git_dirty") == "False",
            lineage.get("git_dirty"),
            "False",
        ),
        GateResult(
            "lineage.data_hash",
            bool(lineage.get("data_hash")),
            lineage.get("data_hash") or "missing",
            "present",
        ),
    ]


def enforce(version: str, stage: str, results: list[GateResult]) -> None:
    """Raise if any gate failed, listing every failure.

    Raises:
        GateFailedError: at least one gate failed.
    """
    failed = [result for result in results if not result.passed]
    if failed:
        details = "; ".join(result.describe() for result in failed)
        raise GateFailedError(
            f"Promotion of {version} to {stage} refused by {len(failed)} gate(s): {details}. "
            "Nothing was changed."
        )
