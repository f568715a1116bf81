"""What every ``/invocations`` reader shares: the refusals, the signature, value conversion.

A body's values are converted to its signature column's type by MLflow's
rules where they are safe (see :mod:`.invocations`), whichever content type
carried them, so the conversion and the refusals live here, once; the readers
(:mod:`.invocation_json`, :mod:`.invocation_tables`) only parse their format.
"""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import is_object_dtype

from .bundle import Feature

#: Rows converted and predicted at a time: a large batch never exists as one matrix.
CHUNK_ROWS = 4096

#: A converted chunk: a float matrix in feature order (numeric models) or one array per column.
Batch = npt.NDArray[np.float64] | dict[str, Any]

_INT_BITS = {"long": 64, "integer": 32}
DTYPES: dict[str, Any] = {
    "double": np.float64,
    "float": np.float32,
    "long": np.int64,
    "integer": np.int32,
    "boolean": np.bool_,
    "string": object,
}
_ERROR_CLASSES = {
    "BAD_REQUEST": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_PARAMETER_VALUE": ("KAM01", "SCHEMA_ENFORCEMENT_FAILED"),
}


class InvocationError(Exception):
    """A refused request in MLflow's terms: HTTP status, error code and a metrics reason."""

    status = 400
    error_code = "BAD_REQUEST"
    reason = "bad_request"


class BadRequestError(InvocationError):
    """MLflow's ``BAD_REQUEST``: the body cannot be read as a table."""


class InvalidValueError(BadRequestError):
    """MLflow's ``BAD_REQUEST`` for a value that cannot be converted (or would be unsafely)."""

    reason = "invalid_rows"


class TooManyRowsError(BadRequestError):
    """More rows than ``SERVING_MAX_BATCH_ROWS`` allows (MLflow has no limit)."""

    reason = "too_many_rows"


class SchemaMismatchError(InvocationError):
    """MLflow's ``INVALID_PARAMETER_VALUE``: the columns do not match the signature."""

    error_code = "INVALID_PARAMETER_VALUE"
    reason = "schema_mismatch"


class UnsupportedMediaError(InvocationError):
    """A content type MLflow's server refuses: 415, answered in plain text as MLflow does."""

    status = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"
    reason = "unsupported_media"


class RefusedError(Exception):
    """One value cannot be converted; the message says why, without the value."""


class Columns:
    """The signature a reader reads for, and the checks every content type applies."""

    def __init__(
        self, features: Sequence[Feature], *, numeric: bool, max_rows: int | None = None
    ) -> None:
        """Read for ``features`` (the signature's columns, in the model's order).

        ``numeric``: batches are float matrices (the predictor's numeric path), not
        columns; ``max_rows``: the most rows one request may carry (None: no limit).
        """
        self.features = tuple(features)
        self.names = [feature.name for feature in self.features]
        self.numeric = numeric
        self.max_rows = max_rows
        # Every column a double: a whole chunk converts in one call to numpy, which casts
        # as pandas' `astype(float64)` in MLflow's server does (strings, booleans, ints).
        self.doubles = numeric and all(feature.type == "double" for feature in self.features)
        self.optional = np.array([not feature.required for feature in self.features], dtype=bool)

    def _require(self, present: set[Any], where: str) -> None:
        missing = [f.name for f in self.features if f.required and f.name not in present]
        if missing:
            raise SchemaMismatchError(
                f"Missing column(s) the model requires in {where}: "
                + ", ".join(map(repr, missing))
                + "."
            )

    def _check_count(self, count: int) -> None:
        if count == 0:
            raise BadRequestError("The body holds no rows; send at least one.")
        if self.max_rows is not None and count > self.max_rows:
            raise TooManyRowsError(
                f"The body holds {count} rows; this server takes at most {self.max_rows} per "
                "request (SERVING_MAX_BATCH_ROWS)."
            )

    def _batch(self, arrays: dict[str, Any]) -> Batch:
        if self.numeric:
            return np.column_stack([np.asarray(arrays[name], np.float64) for name in self.names])
        return arrays

    def _refuse_repeated(self, header: list[Any], where: str) -> None:
        twice = [name for name in self.names if header.count(name) > 1]
        if twice:
            raise SchemaMismatchError(
                f"{where} names a column more than once: "
                + ", ".join(map(repr, twice))
                + "; send each column once."
            )


NUMBERS = {"double", "float", "long", "integer"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
MISSING = "a value is required; got null or nothing."
NOT_FINITE = "NaN and infinity are not accepted."


def convert_column(feature: Feature, values: Sequence[Any], start: int) -> npt.NDArray[Any]:
    """One column of raw JSON values converted to its signature type."""
    dtype = DTYPES.get(feature.type, np.float64)
    if dtype in (np.float64, np.float32):
        try:
            array = np.array(values, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            array = None
        if array is not None and array.shape == (len(values),):
            with np.errstate(over="ignore"):
                array = array.astype(dtype)
            finite = np.isfinite(array) | (np.isnan(array) & (not feature.required))
            if finite.all():
                return array
    converted: list[Any] = []
    for number, value in enumerate(values, start):
        if value is None and not feature.required:
            converted.append(None)
            continue
        try:
            converted.append(convert_value(value, feature))
        except RefusedError as exc:
            raise InvalidValueError(f"Row {number}, column {feature.name!r}: {exc}") from None
    return np.array(converted, dtype=object if None in converted else dtype)


def convert_value(value: Any, feature: Feature) -> Any:  # noqa: PLR0912
    """``value`` as ``feature``'s type, by MLflow's rules where they are safe.

    Raises:
        RefusedError: the value does not convert, or converting it would change its meaning.
    """
    kind = feature.type
    if value is None:
        if feature.required:
            raise RefusedError(MISSING)
        return None
    if isinstance(value, (list, dict)):
        raise RefusedError(f"expected a single value ({kind}); got {kind_of(value)}.")
    if kind == "string":
        if not isinstance(value, str):
            raise RefusedError(f"expected text; got {kind_of(value)}.")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise RefusedError(
            f"expected true or false (or 0 or 1); got {kind_of(value)}"
            + (
                " (MLflow would read any non-empty text as true)."
                if isinstance(value, str)
                else "."
            )
        )
    if kind in _INT_BITS:
        number = _integer(value, kind)
        limit = 2 ** (_INT_BITS[kind] - 1)
        if not -limit <= number < limit:
            raise RefusedError(f"out of range for a {_INT_BITS[kind]}-bit integer ({kind}).")
        return number
    try:
        converted = float(value)
    except OverflowError:
        raise RefusedError(f"out of range for a number ({kind}).") from None
    except (ValueError, TypeError):
        raise RefusedError(
            f"expected a number ({kind}); got {kind_of(value)} that is not one."
        ) from None
    if not math.isfinite(converted):
        raise RefusedError(NOT_FINITE)
    if kind == "float" and abs(converted) > _FLOAT32_MAX:
        raise RefusedError(f"out of range for a 32-bit number ({kind}).")
    return converted


def _integer(value: Any, kind: str) -> int:
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RefusedError(NOT_FINITE)
        if not value.is_integer():
            raise RefusedError(
                f"expected a whole number ({kind}); got a fraction (MLflow would truncate it)."
            )
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise RefusedError(
                f"expected a whole number ({kind}); got text that is not one."
            ) from None
    raise RefusedError(f"expected a whole number ({kind}); got {kind_of(value)}.")


def convert_frame_column(feature: Feature, values: pd.Series) -> npt.NDArray[Any]:
    """A CSV or Parquet column (already of a type MLflow accepts) checked and converted."""
    dtype = DTYPES.get(feature.type, np.float64)
    if not is_object_dtype(values.dtype) and dtype is not object:
        array = values.to_numpy()
        if array.dtype.kind == "f":
            with np.errstate(over="ignore"):
                array = array.astype(dtype)
            allowed = np.isfinite(array) | (np.isnan(array) & (not feature.required))
            if not allowed.all():
                row = int(np.argmin(allowed))
                problem = MISSING if np.isnan(array[row]) else NOT_FINITE
                raise InvalidValueError(f"Row {row}, column {feature.name!r}: {problem}")
        return array.astype(dtype)
    raw = values.to_numpy(dtype=object)
    converted: list[Any] = []
    for number, value in enumerate(raw):
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        try:
            converted.append(convert_value(None if missing else value, feature))
        except RefusedError as exc:
            raise InvalidValueError(f"Row {number}, column {feature.name!r}: {exc}") from None
    return np.array(converted, dtype=object if None in converted else dtype)


def kind_of(value: Any) -> str:
    """What a JSON value is, named without repeating it."""
    if value is None:
        return "null"
    for kind, name in _KINDS:
        if isinstance(value, kind):
            return name
    return type(value).__name__


# bool before int: a JSON boolean is an int to Python.
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "text"),
    (list, "a list"),
    (dict, "an object"),
)


def first_line(exc: BaseException) -> str:
    """An exception's first line, shortened: what a one-line refusal quotes of it."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
