"""The drift statistics, vectorised over whole columns: PSI, Kolmogorov-Smirnov, chi-square.

Every function works on counts (bins, categories, or batch values below the
training sample's points) or makes them from a sorted column with binary
searches, never a Python loop over rows. Counts of a batch's partitions add
up to the whole batch's, so a batch too large for memory gets the same
statistics as a small one. The reference side is what the training profile
keeps (see :mod:`..data.profile`), so the raw training set is not needed
after training.
"""

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Share given to an empty bin, so PSI stays finite (the usual convention).
EMPTY_BIN_SHARE = 1e-4
#: Below this the Kolmogorov series in ``1 / z`` converges faster than the one in ``z``.
_KOLMOGOROV_SWITCH = 1.18
_SERIES_TERMS = np.arange(1, 21)


def shares(counts: IntArray) -> FloatArray:
    """Counts as fractions of their total (all zeros for an empty total)."""
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def psi(reference_counts: IntArray, batch_counts: IntArray) -> float:
    """Population stability index: ``sum((b - r) * ln(b / r))`` over bin shares.

    Empty bins count as :data:`EMPTY_BIN_SHARE` on either side. Rules of thumb:
    below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
    """
    reference = np.clip(shares(reference_counts), EMPTY_BIN_SHARE, None)
    batch = np.clip(shares(batch_counts), EMPTY_BIN_SHARE, None)
    return float(np.sum((batch - reference) * np.log(batch / reference)))


def ecdf_counts(sorted_values: FloatArray, points: FloatArray) -> tuple[IntArray, IntArray]:
    """How many of ``sorted_values`` lie below each point, and at or below it.

    Counts, not fractions: those of a batch's partitions add up to the whole
    batch's, so :func:`ks_statistic` gives the same D on a batch counted in
    pieces as on the batch in one piece.
    """
    return (
        np.searchsorted(sorted_values, points, side="left").astype(np.int64),
        np.searchsorted(sorted_values, points, side="right").astype(np.int64),
    )


def ks_statistic(
    reference_sorted: FloatArray, batch_below: IntArray, batch_at_or_below: IntArray, batch_n: int
) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical CDFs.

    Between two consecutive reference values the reference CDF is constant
    and the batch CDF only rises, so the gap is largest at an end of that
    interval: comparing both CDFs at each reference value and just below it
    is exact (the same D as ``scipy.stats.ks_2samp``). On the batch side that
    takes only the :func:`ecdf_counts` of the batch at the reference values,
    never the batch values themselves.
    """
    reference_n = len(reference_sorted)
    reference_below, reference_at_or_below = ecdf_counts(reference_sorted, reference_sorted)
    below = reference_below / reference_n - batch_below / batch_n
    at_or_below = reference_at_or_below / reference_n - batch_at_or_below / batch_n
    return float(max(np.abs(below).max(), np.abs(at_or_below).max()))


def ks_pvalue(statistic: float, reference_n: int, batch_n: int) -> float:
    """Two-sided p-value of D from the asymptotic Kolmogorov distribution.

    The large-sample limit ``scipy.stats.ks_2samp`` also falls back to; at a
    million rows it is ~0 for any visible shift, which is why verdicts rest on
    effect sizes and use the p-value only to rule out noise.
    """
    effective_n = reference_n * batch_n / (reference_n + batch_n)
    return kolmogorov_sf(float(np.sqrt(effective_n) * statistic))


def kolmogorov_sf(z: float) -> float:
    """``P(K > z)`` for the Kolmogorov distribution (``scipy.special.kolmogorov``).

    Its two classical series, each where it converges in a few terms; written
    out because importing ``scipy.special`` (it loads ``scipy.linalg``) costs a
    drift check more time than all its statistics on a million rows.
    """
    if z <= 0:
        return 1.0
    if z < _KOLMOGOROV_SWITCH:
        odd = 2 * _SERIES_TERMS - 1
        cdf = np.sqrt(2 * np.pi) / z * np.exp(-(odd**2) * np.pi**2 / (8 * z**2)).sum()
        return float(1.0 - cdf)
    signs = np.where(_SERIES_TERMS % 2 == 1, 1.0, -1.0)
    return float(2 * (signs * np.exp(-2 * _SERIES_TERMS**2 * z**2)).sum())


def chi_square_pvalue(reference_counts: IntArray, batch_counts: IntArray) -> float:
    """Pearson's goodness-of-fit p-value of batch category counts against the reference shares.

    Categories absent from the reference get :data:`EMPTY_BIN_SHARE` (then
    renormalised), so an unseen category is a large, finite surprise. SciPy
    is imported here, only when a model has categorical features.
    """
    from scipy.special import chdtrc  # noqa: PLC0415 - seconds to import; see kolmogorov_sf

    if len(batch_counts) < 2:  # noqa: PLR2004 - one category: nothing can differ
        return 1.0
    expected_share = np.clip(shares(reference_counts), EMPTY_BIN_SHARE, None)
    expected = expected_share / expected_share.sum() * batch_counts.sum()
    statistic = float(np.sum((batch_counts - expected) ** 2 / expected))
    return float(chdtrc(len(batch_counts) - 1, statistic))
