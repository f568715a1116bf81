"""A batch as counts that add up: all a drift check needs, counted partition by partition.

A drift check needs counts, never the rows themselves: per numeric feature
the rows in each training quantile bin (PSI), the rows below and at or below
each point of the training sample (the batch's CDF wherever the exact
Kolmogorov-Smirnov D can be decided, see :func:`.statistics.ks_statistic`)
and the rows in each plot bin; per categorical feature the rows of each
training category and of unseen ones. Counts of disjoint rows add up, so the
partitions of a large batch are counted by independent tasks on the compute
backend and their sum is exactly the whole batch's count: the same statistics,
severities and verdict as reading the batch at once, in memory bounded by one
partition per task and one set of counts here.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute import open_backend
from ..config import ComputeConfig
from ..data.partitions import Partition, partitions
from ..data.profile import (
    FloatArray,
    IntArray,
    NumericProfile,
    ReferenceProfile,
    bin_counts,
    is_numeric,
)
from ..errors import DataValidationError
from .statistics import ecdf_counts

#: Equal-width bins of a numeric feature's plot between its two open-ended outer bins.
PLOT_BINS = 30
NO_ROWS = "no rows to check (only a header)"


@dataclass(frozen=True, eq=False)
class NumericBins:
    """Where a numeric feature's batch values are counted: all fixed by the training profile."""

    name: str
    #: The profile's interior quantile edges (PSI)...
    edges: FloatArray
    #: ...and its training rows per bin.
    reference_counts: IntArray
    #: The profile's sorted sample: the points where the batch's CDF is counted (KS).
    sample: FloatArray
    #: Interior edges of the plot's bins (:func:`plot_edges`).
    plot_edges: FloatArray


@dataclass(frozen=True, eq=False)
class CategoricalBins:
    """A categorical feature's training categories; any other category is counted after them."""

    name: str
    categories: tuple[str, ...]
    #: Training rows per category, then 0 for the unseen ones.
    reference_counts: IntArray


Layout = tuple[NumericBins | CategoricalBins, ...]


def _none() -> IntArray:
    """No counts: what a categorical feature has where a numeric one has KS and plot counts."""
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class FeatureCounts:
    """One feature's counts over some rows; every array adds up over disjoint rows."""

    #: Numeric: rows per PSI bin. Categorical: rows per training category, then unseen ones.
    bins: IntArray
    #: Numeric only (empty for a category): rows below each training sample point...
    below: IntArray = field(default_factory=_none)
    #: ...and at or below it.
    at_or_below: IntArray = field(default_factory=_none)
    #: Numeric only: rows per plot bin.
    plot: IntArray = field(default_factory=_none)

    def __add__(self, other: "FeatureCounts") -> "FeatureCounts":
        return FeatureCounts(
            self.bins + other.bins,
            self.below + other.below,
            self.at_or_below + other.at_or_below,
            self.plot + other.plot,
        )


@dataclass(frozen=True, eq=False)
class BatchCounts:
    """Every feature's counts over some rows of a batch, in the layout's order."""

    rows: int
    features: tuple[FeatureCounts, ...]

    def __add__(self, other: "BatchCounts") -> "BatchCounts":
        return BatchCounts(
            self.rows + other.rows,
            tuple(
                mine + theirs for mine, theirs in zip(self.features, other.features, strict=True)
            ),
        )


@dataclass(frozen=True)
class PartitionTask:
    """One partition to count, and how errors name it."""

    partition: Partition
    where: str

    def describe(self) -> str:
        """The partition as a failed task's message names it."""
        return self.where


def plot_edges(sample: FloatArray) -> FloatArray:
    """Interior edges of a numeric feature's plot, from the training sample alone.

    :data:`PLOT_BINS` equal-width bins over the training range, padded by half
    a bin on each side, between two open-ended outer bins. The edges depend on
    the training profile only, not on the batch (as its range or tails would),
    so every partition counts into the same bins and the counts add up. The
    outer bins hold only batch values beyond the training range: a batch that
    moved far out still shows, as a bar at an end, and neither is cut off nor
    squashes the training bars into one. A feature with one training value
    gets a range of half its magnitude (at least 0.5) on each side.
    """
    low, high = float(sample[0]), float(sample[-1])
    pad = (high - low) / (2 * PLOT_BINS) if high > low else max(abs(low), 1.0) / 2
    return np.linspace(low - pad, high + pad, PLOT_BINS + 1)


def layout_of(reference: ReferenceProfile) -> Layout:
    """The bins of every profiled feature, as arrays, in training order."""
    return tuple(
        NumericBins(
            feature.name,
            feature.edges_array(),
            feature.counts_array(),
            feature.sample_array(),
            plot_edges(feature.sample_array()),
        )
        if isinstance(feature, NumericProfile)
        else CategoricalBins(
            feature.name,
            tuple(feature.frequencies),
            np.array([*feature.frequencies.values(), 0], dtype=np.int64),
        )
        for feature in reference.features
    )


def count_frame(layout: Layout, frame: pd.DataFrame, where: str) -> BatchCounts:
    """Count the rows of ``frame`` (a partition, or a whole batch) for every feature.

    A partition without rows counts nothing and is no error (Dask and Spark
    write empty ones); :func:`count_batch` refuses a batch without any.

    Raises:
        DataValidationError: a feature column is missing, holds text where the model
            was trained on numbers, or has missing or infinite values; the message
            starts with ``where``.
    """
    names = [feature.name for feature in layout]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{where}: missing {len(missing)} feature column(s): {listed(missing)}; the model "
            f"was trained on: {listed(names)}"
        )
    return BatchCounts(
        len(frame), tuple(_count(feature, frame[feature.name], where) for feature in layout)
    )


def count_partition(layout: Layout, task: PartitionTask) -> BatchCounts:
    """The compute task: read one partition where it runs and count it; only counts travel."""
    return count_frame(layout, task.partition.read(), task.where)


def count_batch(layout: Layout, path: Path, compute: ComputeConfig) -> BatchCounts:
    """Count a CSV/Parquet file or a directory of Parquet files, partition by partition.

    Partitions are counted on the compute backend, the layout sent to each
    worker once, and summed as they come back, in order; a batch of one
    partition is counted in this process, because starting workers would
    take longer than counting it.

    Raises:
        DataValidationError: the input is missing, unreadable or has no rows, or a
            partition does not fit the profile (the message names it).
        ComputeError: a task failed otherwise, or its worker died.
    """
    folder = path if path.is_dir() else path.parent
    tasks = (
        PartitionTask(partition, str(folder / partition.describe()))
        for partition in partitions(path, compute.partition_rows)
    )
    head = list(islice(tasks, 2))
    if len(head) < 2:  # noqa: PLR2004 - one partition, or an error raised by now
        return _total((count_partition(layout, task) for task in head), path)
    with open_backend(compute) as backend:
        counted = backend.map(
            count_partition, chain(head, tasks), label=PartitionTask.describe, shared=layout
        )
        return _total(counted, path)


def listed(names: list[str], limit: int = 8) -> str:
    """Names for a one-line message, the rest summarised as a count."""
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def _total(counted: Iterable[BatchCounts], path: Path) -> BatchCounts:
    total: BatchCounts | None = None
    for counts in counted:
        total = counts if total is None else total + counts
    if total is None or total.rows == 0:
        raise DataValidationError(f"{path}: {NO_ROWS}")
    return total


def _count(feature: NumericBins | CategoricalBins, column: pd.Series, where: str) -> FeatureCounts:
    nulls = int(column.isna().sum())
    if nulls:
        raise DataValidationError(
            f"{where}: column {feature.name!r} has {nulls} missing values; the model accepts none"
        )
    if isinstance(feature, CategoricalBins):
        counted = column.astype(str).value_counts()
        known = counted.reindex(list(feature.categories), fill_value=0).to_numpy(dtype=np.int64)
        return FeatureCounts(np.append(known, len(column) - known.sum()))
    if len(column) and not is_numeric(column):
        raise DataValidationError(
            f"{where}: column {feature.name!r} holds {column.dtype} values, expected numbers as "
            "in training"
        )
    values = np.sort(column.to_numpy(dtype=np.float64))
    if len(values) and not (np.isfinite(values[0]) and np.isfinite(values[-1])):
        raise DataValidationError(
            f"{where}: column {feature.name!r} has {int(np.isinf(values).sum())} infinite "
            "values; the model accepts finite numbers only"
        )
    below, at_or_below = ecdf_counts(values, feature.sample)
    return FeatureCounts(
        bin_counts(values, feature.edges),
        below,
        at_or_below,
        bin_counts(values, feature.plot_edges),
    )
