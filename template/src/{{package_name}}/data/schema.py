"""Fail-fast validation of the training frame.

The schema is declared once here and enforced before any model sees the data,
so bad rows stop the pipeline with the column and the rule they break instead
of silently producing a worse model.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from ..config import Task
from ..errors import DataValidationError

_MAX_REPORTED_FAILURES = 5


def _finite(series: pd.Series) -> pd.Series:
    """Element-wise check that values are finite (no inf); nulls are checked separately."""
    return pd.Series(np.isfinite(series.to_numpy(dtype=float)), index=series.index)


def _feature_columns(features: Sequence[str]) -> dict[str, pa.Column]:
    """Numeric, non-null, finite: the same rule for training rows and prediction requests."""
    return {
        name: pa.Column(float, checks=pa.Check(_finite, name="finite"), nullable=False, coerce=True)
        for name in features
    }


def build_schema(
    features: Sequence[str], target: str, task: Task, min_rows: int
) -> pa.DataFrameSchema:
    """Declare what a valid training frame looks like.

    Features are numeric, non-null and finite. The target is a non-negative
    integer class label for classification and a finite number for regression.
    """
    feature_columns = _feature_columns(features)
    if task == "classification":
        target_column = pa.Column(int, checks=pa.Check.ge(0), nullable=False, coerce=True)
    else:
        target_column = pa.Column(
            float, checks=pa.Check(_finite, name="finite"), nullable=False, coerce=True
        )
    return pa.DataFrameSchema(
        {**feature_columns, target: target_column},
        checks=pa.Check(lambda frame: len(frame) >= min_rows, name=f"at least {min_rows} rows"),
        strict=True,
        ordered=False,
    )


def validate_training_frame(
    frame: pd.DataFrame, target: str, task: Task, min_rows: int
) -> pd.DataFrame:
    """Validate ``frame`` and return it with coerced dtypes.

    Raises:
        DataValidationError: naming each failing column and rule.
    """
    if target not in frame.columns:
        present = ", ".join(map(str, frame.columns))
        raise DataValidationError(
            f"Target column {target!r} is missing; columns present: {present}."
        )
    features = [str(column) for column in frame.columns if column != target]
    if not features:
        raise DataValidationError("The data has no feature columns besides the target.")
    schema = build_schema(features, target, task, min_rows)
    try:
        return schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        raise DataValidationError(_describe(exc.failure_cases)) from exc
    except SchemaError as exc:  # pragma: no cover - lazy=True reports through SchemaErrors
        raise DataValidationError(str(exc)) from exc


def _describe(failure_cases: pd.DataFrame) -> str:
    """Turn pandera's failure table into one readable sentence."""
    grouped = failure_cases.groupby(["column", "check"], dropna=False, sort=False)
    parts = []
    for (column, check), cases in grouped:
        examples = ", ".join(map(str, cases["failure_case"].head(3).tolist()))
        subject = f"column {column!r}" if isinstance(column, str) else "table"
        parts.append(f"{subject} fails {check} ({len(cases)} rows, e.g. {examples})")
    shown = parts[:_MAX_REPORTED_FAILURES]
    more = f"; and {len(parts) - len(shown)} more" if len(parts) > len(shown) else ""
    return "Data validation failed: " + "; ".join(shown) + more + "."
