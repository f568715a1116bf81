"""Compare a batch with a version's training profile: one verdict, and why, per feature.

A numeric feature is scored with PSI on the training quantile bins and the
two-sample Kolmogorov-Smirnov statistic D against the training sample; a
categorical one with PSI and a chi-square test on its category shares.
Verdicts rest on effect sizes (``psi_*``, ``ks_threshold``); a p-value never
decides alone, it only has to rule noise out (below ``alpha`` shared by all
features, Bonferroni), because at a million rows even a harmless shift has a
p-value of ~0, while in a small batch large-looking effects are often noise.
"""

import json
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..config import DriftConfig
from ..data.profile import (
    CategoricalProfile,
    FloatArray,
    IntArray,
    NumericProfile,
    ReferenceProfile,
    bin_counts,
    is_numeric,
)
from ..errors import DataValidationError
from . import statistics

Verdict = Literal["no_drift", "investigate", "drift", "insufficient_data"]
Severity = Literal["ok", "investigate", "drift"]
#: Equal-width bins of the per-feature plots (PSI uses the training quantile bins).
PLOT_BINS = 30
#: Categories drawn in a plot; the rest are summed into one bar.
PLOT_CATEGORIES = 20
#: Share of batch rows left out at each end of a plot's range, so a few outliers do not
#: squash the picture (they still count, in the outer bins).
PLOT_TAIL = 0.001
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
                f"drift in {len(names)} of {total} features ({_listed(names)}); "
                "retraining recommended"
            )
        if self.verdict == "investigate":
            names = self.investigate_features()
            return (
                f"investigate: {len(names)} of {total} features shifted moderately "
                f"(PSI above {self.config.psi_investigate}: {_listed(names)})"
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
    """Score every profiled feature of ``batch`` against ``reference``.

    Columns the model was not trained on (an id, the target) are ignored.

    Raises:
        DataValidationError: a feature column is missing, has the wrong type or
            missing values, or the batch has no rows.
    """
    _check_columns(reference, batch)
    noise_level = config.alpha / len(reference.features)
    features = tuple(
        _numeric(profile, batch[profile.name], config, noise_level)
        if isinstance(profile, NumericProfile)
        else _categorical(profile, batch[profile.name], config, noise_level)
        for profile in reference.features
    )
    rows = len(batch)
    verdict: Verdict
    if rows < config.min_rows:
        verdict = "insufficient_data"
    elif any(feature.severity == "drift" for feature in features):
        verdict = "drift"
    elif any(feature.severity == "investigate" for feature in features):
        verdict = "investigate"
    else:
        verdict = "no_drift"
    return DriftReport(verdict, features, rows, reference.rows, config)


def _check_columns(reference: ReferenceProfile, batch: pd.DataFrame) -> None:
    missing = [name for name in reference.feature_names if name not in batch.columns]
    if missing:
        raise DataValidationError(
            f"missing {len(missing)} feature column(s): {_listed(missing)}; the model was "
            f"trained on: {_listed(reference.feature_names)}"
        )
    if batch.empty:
        raise DataValidationError("no rows to check (only a header)")
    for profile in reference.features:
        column = batch[profile.name]
        if isinstance(profile, NumericProfile) and not is_numeric(column):
            raise DataValidationError(
                f"column {profile.name!r} holds {column.dtype} values, expected numbers as in "
                "training"
            )
        nulls = int(column.isna().sum())
        if nulls:
            raise DataValidationError(
                f"column {profile.name!r} has {nulls} missing values; the model accepts none"
            )


def _numeric(
    profile: NumericProfile, column: pd.Series, config: DriftConfig, noise_level: float
) -> FeatureDrift:
    values = np.sort(column.to_numpy(dtype=np.float64))
    if not (np.isfinite(values[0]) and np.isfinite(values[-1])):
        raise DataValidationError(
            f"column {profile.name!r} has {int((~np.isfinite(values)).sum())} infinite values; "
            "the model accepts finite numbers only"
        )
    sample = profile.sample_array()
    psi = statistics.psi(profile.counts_array(), bin_counts(values, profile.edges_array()))
    ks = statistics.ks_statistic(sample, values)
    pvalue = statistics.ks_pvalue(ks, len(sample), len(values))
    return FeatureDrift(
        name=profile.name,
        kind="numeric",
        psi=psi,
        ks_statistic=ks,
        ks_pvalue=pvalue,
        chi2_pvalue=None,
        severity=_severity(config, psi, ks, pvalue, noise_level),
        histogram=_numeric_histogram(sample, values),
    )


def _categorical(
    profile: CategoricalProfile, column: pd.Series, config: DriftConfig, noise_level: float
) -> FeatureDrift:
    counted = column.astype(str).value_counts()
    known = list(profile.frequencies)
    unseen = int(counted.drop(labels=known, errors="ignore").sum())
    reference = np.array([*profile.frequencies.values(), 0], dtype=np.int64)
    batch = np.array([*(int(counted.get(name, 0)) for name in known), unseen], dtype=np.int64)
    psi = statistics.psi(reference, batch)
    pvalue = statistics.chi_square_pvalue(reference, batch)
    return FeatureDrift(
        name=profile.name,
        kind="categorical",
        psi=psi,
        ks_statistic=None,
        ks_pvalue=None,
        chi2_pvalue=pvalue,
        severity=_severity(config, psi, None, pvalue, noise_level),
        histogram=_categorical_histogram([*known, UNSEEN], reference, batch),
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


def _numeric_histogram(sample: FloatArray, values: FloatArray) -> Histogram:
    """Equal-width bins over both ranges (less the batch's extreme tails)."""
    tail = int(len(values) * PLOT_TAIL)
    low = min(sample[0], values[tail])
    high = max(sample[-1], values[len(values) - 1 - tail])
    if high <= low:
        return Histogram((f"{low:.4g}",), (1.0,), (1.0,))
    bounds = np.linspace(low, high, PLOT_BINS + 1)
    edges = bounds[1:-1]
    labels = tuple(f"{start:.4g} to {end:.4g}" for start, end in pairwise(bounds))
    return Histogram(
        labels,
        _rounded(statistics.shares(bin_counts(sample, edges))),
        _rounded(statistics.shares(bin_counts(values, edges))),
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


def _listed(names: list[str], limit: int = 8) -> str:
    """Names for a one-line message, the rest summarised as a count."""
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown
