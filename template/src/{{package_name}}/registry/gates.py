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


COMMIT_HINT = (
    "it was trained with uncommitted changes: commit exactly the files it was trained on "
    "(`git add -u && git commit`) and promote again, no retraining needed; "
    "or retrain from a clean tree with `just pipeline --force`"
)


def lineage_gate(lineage: Mapping[str, str], committed_content: str | None) -> list[GateResult]:
    """Production needs a known commit, committed code and a data version.

    A run trained on uncommitted changes passes once a commit holds exactly
    the files it was trained on: ``committed_content`` is the content digest
    of the current commit, compared with the one recorded at training.
    """
    dirty = lineage.get("git_dirty") != "False"
    recorded = lineage.get("content_hash")
    committed_since = dirty and bool(recorded) and recorded == committed_content
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
            "committed after training"
            if committed_since
            else ("uncommitted changes" if dirty else "clean"),
            "clean",
            hint=COMMIT_HINT,
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
