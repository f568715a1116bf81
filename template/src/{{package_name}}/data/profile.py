"""The reference profile: a compact summary of the training features, kept with the model.

Drift checks compare later batches with the data a version was trained on,
long after the training split is gone (or too large to keep). The profile
holds just enough for that: per numeric feature its quantile bin edges and
counts (PSI) and a bounded, deterministic sample of its sorted values (the
Kolmogorov-Smirnov test); per categorical feature its category counts. It is
built by the train stage and logged among the model's files, so the
version's provenance digests cover it and every exported bundle carries it.
It lives in ``data/`` because training writes it and monitoring reads it.
"""

import json
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import DataValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The profile's key among a logged model's artifacts (``MLmodel`` lists it) and its file name.
PROFILE_ARTIFACT = "reference_profile"
PROFILE_FILE = "reference_profile.json"
DEFAULT_BINS = 10
DEFAULT_SAMPLE_SIZE = 5000
#: Deciles, whatever ``drift.bins`` says: the edges must not change with a parameter.
TARGET_BINS = 10


def quantile_edges(sorted_values: FloatArray, bins: int) -> FloatArray:
    """Interior edges that split ``sorted_values`` into ``bins`` equally filled bins.

    Ties merge edges, so a feature with few distinct values gets fewer bins;
    the outer bins are open-ended, so later values beyond the training range
    still land in a bin.
    """
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return np.unique(np.quantile(sorted_values, levels))


def bin_counts(sorted_values: FloatArray, edges: FloatArray) -> IntArray:
    """Values per bin ``[edges[i-1], edges[i])`` (outer bins open-ended); input sorted.

    Training and batch values are counted by this one rule, so their bins agree.
    """
    below = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(below, prepend=0, append=len(sorted_values)).astype(np.int64)


def quantile_sample(sorted_values: FloatArray, size: int) -> FloatArray:
    """At most ``size`` evenly spaced order statistics: a deterministic sample of the ECDF.

    Unlike a random sample it is the same on every run and keeps the minimum,
    the maximum and every quantile in between to within ``1 / size``.
    """
    if len(sorted_values) <= size:
        return sorted_values
    positions = np.linspace(0, len(sorted_values) - 1, size).round().astype(np.int64)
    return sorted_values[positions]


def is_numeric(series: pd.Series) -> bool:
    """Numbers (not booleans, which are treated as two categories)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericProfile(_Frozen):
    """A numeric training feature: PSI bins and a sorted sample for KS."""

    kind: Literal["numeric"] = "numeric"
    name: str
    rows: int = Field(ge=1)
    #: Interior quantile edges; ``len(counts) == len(edges) + 1``.
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    #: Sorted training values: all of them, or evenly spaced quantiles when there are more.
    sample: tuple[float, ...] = Field(min_length=1)

    def edges_array(self) -> FloatArray:
        """The bin edges as a numpy array."""
        return np.asarray(self.edges, dtype=np.float64)

    def counts_array(self) -> IntArray:
        """Training rows per bin as a numpy array."""
        return np.asarray(self.counts, dtype=np.int64)

    def sample_array(self) -> FloatArray:
        """The sorted sample as a numpy array."""
        return np.asarray(self.sample, dtype=np.float64)


class CategoricalProfile(_Frozen):
    """A categorical training feature: how often each category occurred."""

    kind: Literal["categorical"] = "categorical"
    name: str
    rows: int = Field(ge=1)
    #: Category (as text) → training rows, sorted by category.
    frequencies: dict[str, int]


FeatureProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class ReferenceProfile(_Frozen):
    """The training features of one model version, summarised for drift checks."""

    format: Literal[1] = 1
    rows: int = Field(ge=1)
    features: tuple[FeatureProfile, ...] = Field(min_length=1)
    #: Regression only: the training target's deciles (interior edges, ties merged; empty
    #: for classification and for profiles written before). Derived from the training data
    #: alone, so every version trained on the same data records the same edges: the
    #: serving app buckets its predictions by them, and versions compare bucket by bucket.
    target_edges: tuple[float, ...] = ()

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        bins: int = DEFAULT_BINS,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
    ) -> "ReferenceProfile":
        """Profile every column of ``frame`` (the training features, without the target).

        Raises:
            DataValidationError: ``frame`` has no rows or columns, or missing values.
        """
        if frame.empty:
            raise DataValidationError("Cannot profile an empty frame: it has no rows or columns.")
        nulls = [str(name) for name in frame.columns if frame[name].isna().any()]
        if nulls:
            raise DataValidationError(
                f"Cannot profile columns with missing values: {', '.join(nulls)}."
            )
        features: list[NumericProfile | CategoricalProfile] = []
        for name in frame.columns:
            column = frame[name]
            if is_numeric(column):
                values = np.sort(column.to_numpy(dtype=np.float64))
                edges = quantile_edges(values, bins)
                features.append(
                    NumericProfile(
                        name=str(name),
                        rows=len(values),
                        edges=tuple(edges.tolist()),
                        counts=tuple(bin_counts(values, edges).tolist()),
                        sample=tuple(quantile_sample(values, sample_size).tolist()),
                    )
                )
            else:
                counted = column.astype(str).value_counts(sort=False)
                features.append(
                    CategoricalProfile(
                        name=str(name),
                        rows=len(column),
                        frequencies={str(k): int(counted[k]) for k in sorted(counted.index)},
                    )
                )
        return cls(rows=len(frame), features=tuple(features))

    def with_target(self, target: pd.Series) -> "ReferenceProfile":
        """This profile plus the deciles of a numeric training target (regression)."""
        values = np.sort(target.to_numpy(dtype=np.float64))
        edges = quantile_edges(values, TARGET_BINS)
        return self.model_copy(update={"target_edges": tuple(edges.tolist())})

    @property
    def feature_names(self) -> list[str]:
        """The profiled columns, in training order."""
        return [feature.name for feature in self.features]

    def to_json(self) -> str:
        """Stable, indented JSON (what is stored with the model)."""
        return json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ReferenceProfile":
        """Parse :meth:`to_json` output.

        Raises:
            DataValidationError: the text is not a reference profile.
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "top level"
            raise DataValidationError(
                f"Not a reference profile ({where}: {first['msg']}); retrain the version "
                "with `just pipeline --force` to write a new one."
            ) from None
