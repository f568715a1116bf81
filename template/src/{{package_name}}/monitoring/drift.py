"""Compare a batch with a version's training profile: one verdict, and why, per feature.

A numeric feature is scored with PSI on the training quantile bins and the
two-sample Kolmogorov-Smirnov statistic D against the training sample; a
categorical one with PSI and a chi-square test on its category shares.
Verdicts rest on effect sizes (``psi_*``, ``ks_threshold``); a p-value never
decides alone, it only has to rule noise out (below ``alpha`` shared by all
features, Bonferroni), because at a million rows even a harmless shift has a
p-value of ~0, while in a small batch large-looking effects are often noise.

Everything is computed from the batch's counts (:mod:`.counts`), so a batch
in memory (:func:`detect_drift`) and a large one counted partition by
partition on the compute backend (:func:`detect_batch_drift`) go through
the same code and get the same report.
"""

import json
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..config import ComputeConfig, DriftConfig
from ..data.profile import FloatArray, IntArray, ReferenceProfile, bin_counts
from ..errors import DataValidationError
from . import statistics
from .counts import (
    NO_ROWS,
    BatchCounts,
    CategoricalBins,
    FeatureCounts,
    Layout,
    NumericBins,
    count_batch,
    count_frame,
    layout_of,
    listed,
)

Verdict = Literal["no_drift", "investigate", "drift", "insufficient_data"]
Severity = Literal["ok", "investigate", "drift"]
#: Categories drawn in a plot; the rest are summed into one bar.
PLOT_CATEGORIES = 20
UNSEEN = "(not seen in training)"
OTHERS = "(other categories)"


@dataclass(frozen=True)
class Histogram:
    """What a feature's plot draws: training and batch shares over the same bins."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    batch: tuple[float, ...]


@dataclass(frozen=True)
class FeatureDrift:
    """The scores and severity of one feature."""

    name: str
    kind: Literal["numeric", "categorical"]
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    chi2_pvalue: float | None
    severity: Severity
    histogram: Histogram

    @property
    def pvalue(self) -> float:
        """The p-value that has to rule noise out: KS for numbers, chi-square for categories."""
        found = self.ks_pvalue if self.kind == "numeric" else self.chi2_pvalue
        return 1.0 if found is None else found


@dataclass(frozen=True)
class DriftReport:
    """The outcome of comparing one batch with one training profile."""

    verdict: Verdict
    features: tuple[FeatureDrift, ...]
    rows: int
    reference_rows: int
    config: DriftConfig

    def drifted_features(self) -> list[str]:
        """Names of the features whose severity is ``drift``."""
        return [feature.name for feature in self.features if feature.severity == "drift"]

    def investigate_features(self) -> list[str]:
        """Names of the features with a moderate shift (``investigate``)."""
        return [feature.name for feature in self.features if feature.severity == "investigate"]

    def headline(self) -> str:
        """The verdict in one line, naming the features behind it."""
        total = len(self.features)
        if self.verdict == "insufficient_data":
            return (
                f"not enough data: {self.rows} rows, at least {self.config.min_rows} needed "
                "(drift.min_rows in params.yaml)"
            )
        if self.verdict == "drift":
            names = self.drifted_features()
            return (
                f"drift in {len(names)} of {total} features ({listed(names)}); "
                "retraining recommended"
            )
        if self.verdict == "investigate":
            names = self.investigate_features()
            return (
                f"investigate: {len(names)} of {total} features shifted moderately "
                f"(PSI above {self.config.psi_investigate}: {listed(names)})"
            )
        largest = max(self.features, key=lambda feature: feature.psi)
        noise = ", within noise" if largest.psi > self.config.psi_investigate else ""
        return (
            f"no drift in {total} features (largest PSI {largest.psi:.3f}, {largest.name}{noise})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: verdict, thresholds and every feature's scores and histogram."""
        return {
            "verdict": self.verdict,
            "headline": self.headline(),
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "thresholds": self.config.model_dump(),
            "drifted_features": self.drifted_features(),
            "features": [asdict(feature) for feature in self.features],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def detect_drift(
    reference: ReferenceProfile, batch: pd.DataFrame, config: DriftConfig
) -> DriftReport:
    """Score every profiled feature of ``batch`` (in memory) against ``reference``.

    Columns the model was not trained on (an id, the target) are ignored.

    Raises:
        DataValidationError: a feature column is missing, has the wrong type or
            missing values, or the batch has no rows.
    """
    layout = layout_of(reference)
    return _report(reference, layout, count_frame(layout, batch, "batch"), config, "batch")


def detect_batch_drift(
    reference: ReferenceProfile, path: Path, config: DriftConfig, compute: ComputeConfig
) -> DriftReport:
    """Score a CSV/Parquet file or a directory of Parquet files, one partition per task.

    The same report as :func:`detect_drift` on the whole batch read at once;
    the partitions' rows never meet in one process.

    Raises:
        DataValidationError: the input is unreadable, has no rows, or a partition
            does not fit the profile (the message names the partition and column).
        ComputeError: a task failed otherwise, or its worker died.
    """
    layout = layout_of(reference)
    counts = count_batch(layout, path, compute)
    return _report(reference, layout, counts, config, str(path))


def _report(
    reference: ReferenceProfile,
    layout: Layout,
    counts: BatchCounts,
    config: DriftConfig,
    where: str,
) -> DriftReport:
    if counts.rows == 0:
        raise DataValidationError(f"{where}: {NO_ROWS}")
    noise_level = config.alpha / len(layout)
    features = tuple(
        _numeric(bins, counted, counts.rows, config, noise_level)
        if isinstance(bins, NumericBins)
        else _categorical(bins, counted.bins, config, noise_level)
        for bins, counted in zip(layout, counts.features, strict=True)
    )
    verdict: Verdict
    if counts.rows < config.min_rows:
        verdict = "insufficient_data"
    elif any(feature.severity == "drift" for feature in features):
        verdict = "drift"
    elif any(feature.severity == "investigate" for feature in features):
        verdict = "investigate"
    else:
        verdict = "no_drift"
    return DriftReport(verdict, features, counts.rows, reference.rows, config)


def _numeric(
    bins: NumericBins, counts: FeatureCounts, rows: int, config: DriftConfig, noise_level: float
) -> FeatureDrift:
    psi = statistics.psi(bins.reference_counts, counts.bins)
    ks = statistics.ks_statistic(bins.sample, counts.below, counts.at_or_below, rows)
    pvalue = statistics.ks_pvalue(ks, len(bins.sample), rows)
    return FeatureDrift(
        name=bins.name,
        kind="numeric",
        psi=psi,
        ks_statistic=ks,
        ks_pvalue=pvalue,
        chi2_pvalue=None,
        severity=_severity(config, psi, ks, pvalue, noise_level),
        histogram=_numeric_histogram(bins, counts.plot),
    )


def _categorical(
    bins: CategoricalBins, batch: IntArray, config: DriftConfig, noise_level: float
) -> FeatureDrift:
    reference = bins.reference_counts
    psi = statistics.psi(reference, batch)
    pvalue = statistics.chi_square_pvalue(reference, batch)
    return FeatureDrift(
        name=bins.name,
        kind="categorical",
        psi=psi,
        ks_statistic=None,
        ks_pvalue=None,
        chi2_pvalue=pvalue,
        severity=_severity(config, psi, None, pvalue, noise_level),
        histogram=_categorical_histogram([*bins.categories, UNSEEN], reference, batch),
    )


def _severity(
    config: DriftConfig, psi: float, ks: float | None, pvalue: float, noise_level: float
) -> Severity:
    """Large (an effect size over its threshold) and not noise (p-value below the level)."""
    if pvalue >= noise_level:
        return "ok"
    if psi > config.psi_drift or (ks is not None and ks > config.ks_threshold):
        return "drift"
    if psi > config.psi_investigate:
        return "investigate"
    return "ok"


def _numeric_histogram(bins: NumericBins, batch: IntArray) -> Histogram:
    """Training (its sample) and batch shares over the fixed plot bins of :func:`.plot_edges`."""
    edges = bins.plot_edges
    labels = (
        f"below {edges[0]:.4g}",
        *(f"{start:.4g} to {end:.4g}" for start, end in pairwise(edges)),
        f"{edges[-1]:.4g} and above",
    )
    return Histogram(
        labels,
        _rounded(statistics.shares(bin_counts(bins.sample, edges))),
        _rounded(statistics.shares(batch)),
    )


def _categorical_histogram(labels: list[str], reference: IntArray, batch: IntArray) -> Histogram:
    """The most frequent categories, then one bar for the rest."""
    order = np.argsort(-(reference + batch), kind="stable")
    shown, rest = order[:PLOT_CATEGORIES], order[PLOT_CATEGORIES:]
    names = [labels[index] for index in shown]
    reference_shares = statistics.shares(reference)
    batch_shares = statistics.shares(batch)
    bars_reference = list(reference_shares[shown])
    bars_batch = list(batch_shares[shown])
    if len(rest):
        names.append(OTHERS)
        bars_reference.append(float(reference_shares[rest].sum()))
        bars_batch.append(float(batch_shares[rest].sum()))
    return Histogram(
        tuple(names), _rounded(np.array(bars_reference)), _rounded(np.array(bars_batch))
    )


def _rounded(values: FloatArray) -> tuple[float, ...]:
    """Shares to 6 decimals: plenty for a plot, and a readable report file."""
    return tuple(float(value) for value in np.round(values, 6))
