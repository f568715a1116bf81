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
    #: What to do when the gate fails, if it is not obvious from the threshold.
    hint: str = ""

    def describe(self) -> str:
        """One line: gate, verdict, actual value and threshold (and the fix, on failure)."""
        verdict = "passed" if self.passed else "FAILED"
        line = f"{self.gate}: {verdict} (actual {self.actual}, threshold {self.threshold})"
        return f"{line} — {self.hint}" if self.hint and not self.passed else line


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


def commit_hint(lineage: Mapping[str, str]) -> str:
    """What a version trained on uncommitted changes needs before it may serve."""
    base = (lineage.get("git_sha") or "")[:12] or "its starting commit"
    return (
        f"it was trained on uncommitted changes to {base}: commit exactly the tracked files "
        "as they were at training (any commit on this branch since then will do, later "
        "commits do not matter; `git add -u && git commit` if nothing changed since) and "
        "promote again, no retraining needed; or retrain from a clean tree with "
        "`just pipeline --force`"
    )


def lineage_gate(lineage: Mapping[str, str], committed_as: str | None) -> list[GateResult]:
    """Production needs a known commit, committed code and a data version.

    A run trained on uncommitted changes passes once a commit on the current
    branch holds exactly the files it was trained on: ``committed_as`` is that
    commit (found by ``lineage.commit_holding``), or ``None`` if there is none.
    """
    dirty = lineage.get("git_dirty") != "False"
    committed_since = dirty and bool(lineage.get("content_hash")) and committed_as is not None
    return [
        GateResult(
            "lineage.git_sha",
            bool(lineage.get("git_sha")),
            lineage.get("git_sha") or "missing",
            "present",
            hint="train inside a git repository (`just install` initialises one)",
        ),
        GateResult(
            "lineage.git_dirty",
            not dirty or committed_since,
            f"committed as {str(committed_as)[:12]}"
            if committed_since
            else ("uncommitted changes" if dirty else "clean"),
            "clean",
            hint=commit_hint(lineage),
        ),
        GateResult(
            "lineage.data_hash",
            bool(lineage.get("data_hash")),
            lineage.get("data_hash") or "missing",
            "present",
            hint="run the pipeline's prepare stage so the data version is recorded",
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
