"""MLflow's scoring protocol on ``POST /invocations``: a drop-in for ``mlflow models serve``.

Clients of MLflow's scoring server switch to this one without a change: the
same bodies (JSON with exactly one of ``dataframe_records``, ``dataframe_split``,
``instances`` or ``inputs``; CSV; Parquet), the same conversion of each value to
its signature column's type (``"12.5"`` and ``true`` are numbers to a ``double``
column, as MLflow casts them), and the same HTTP statuses and error codes:
``BAD_REQUEST`` when the body cannot be read as a table or a value cannot be
converted, ``INVALID_PARAMETER_VALUE`` when the table's columns do not match the
signature, 415 in plain text for another content type. Stricter where MLflow's
answer would be unsafe: NaN, infinity, null and lossy conversions (12.5 to an
integer column, ``"false"`` to a boolean) are refused, a column named twice is
refused, and no message echoes a value (it may be personal data). The project's
docs list each difference.

Large batches stream: the body is parsed once, then converted and predicted
:data:`CHUNK_ROWS` rows at a time, so a request never exists as parsed rows, a
matrix and a DataFrame at once.
"""

import csv
import importlib
import importlib.util
import io
import json
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.types import is_object_dtype

from .bundle import Feature

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
#: In MLflow's order: its 415 message lists them so.
CONTENT_TYPES = (CSV, JSON, PARQUET)
INPUT_KEYS = ("dataframe_records", "dataframe_split", "instances", "inputs")
#: Rows converted and predicted at a time: a large batch never exists as one matrix.
CHUNK_ROWS = 4096
#: Parquet reader: pyarrow when installed (the project's environment), else fastparquet
#: (the serving image, where pyarrow would not fit the size budget); or name one.
PARQUET_ENGINE: str | None = None

#: A converted chunk: a float matrix in feature order (numeric models) or one array per column.
Batch = npt.NDArray[np.float64] | dict[str, Any]

_SPLIT_KEYS = {"columns", "data", "index"}
_INT_BITS = {"long": 64, "integer": 32}
_DTYPES: dict[str, Any] = {
    "double": np.float64,
    "float": np.float32,
    "long": np.int64,
    "integer": np.int32,
    "boolean": np.bool_,
    "string": object,
}
# pandas' dtype per signature type, as MLflow's server passes it to `read_csv`.
_CSV_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
_CSV_DTYPES |= {"boolean": "bool", "string": "object"}
#: MLflow derives both from the error code (``mlflow.exceptions.MlflowException``).
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


def error_body(error: InvocationError) -> dict[str, str]:
    """The JSON MLflow's server answers for ``error`` (a 400)."""
    sqlstate, error_class = _ERROR_CLASSES[error.error_code]
    return {
        "error_code": error.error_code,
        "message": str(error),
        "sqlstate": sqlstate,
        "error_class": error_class,
    }


def media_type(content_type: str | None) -> str:
    """The body's media type, checked as MLflow's server checks it.

    No content type at all reads as JSON (MLflow's server fails with a 500 there).

    Raises:
        UnsupportedMediaError: a charset other than UTF-8, another parameter, or another type.
    """
    if not content_type:
        return JSON
    media, *parameters = (part.strip() for part in content_type.split(";"))
    values = {}
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        values[key.strip().lower()] = value.strip().strip('"')
    if values.get("charset", "utf-8").lower() != "utf-8":
        raise UnsupportedMediaError("The scoring server only supports UTF-8")
    if unexpected := sorted(set(values) - {"charset"}):
        raise UnsupportedMediaError(
            f"Unrecognized content type parameters: {', '.join(unexpected)}."
        )
    if media.lower() not in CONTENT_TYPES:
        raise UnsupportedMediaError(
            "This predictor only supports the following content types: "
            f"Types: {list(CONTENT_TYPES)}. Got '{content_type}'."
        )
    return media.lower()


def records(batch: Batch, names: Sequence[str]) -> list[dict[str, Any]]:
    """A converted batch as one mapping per row (for the access log only)."""
    if isinstance(batch, np.ndarray):
        return [dict(zip(names, row, strict=True)) for row in batch.tolist()]
    columns = [np.asarray(batch[name]).tolist() for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class _RefusedError(Exception):
    """One value cannot be converted; the message says why, without the value."""


@dataclass(frozen=True)
class _Rows:
    """A parsed JSON table: ``take(a, b)`` gives rows ``a``..``b`` as tuples in feature order."""

    count: int
    take: Callable[[int, int], Sequence[Sequence[Any]]]
    #: The precise error when ``take`` failed on a row's shape (not on a value).
    explain: Callable[[int, int], InvocationError]


class Reader:
    """Read ``/invocations`` bodies for one model signature into converted batches."""

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
        self._row_values = _row_getter(self.features)

    def read(self, body: bytes, content_type: str | None) -> Iterator[Batch]:
        """Converted batches of at most :data:`CHUNK_ROWS` rows, in request order.

        The media type is checked at once; everything else as the batches are drawn,
        and the body's structure before the first batch.

        Raises:
            InvocationError: in MLflow's terms (see the module's docstring).
        """
        media = media_type(content_type)
        return self._batches(body, media)

    def _batches(self, body: bytes, media: str) -> Iterator[Batch]:
        # Lazy, so the caller decides where the parsing runs (a worker thread for large
        # bodies), and the bytes are dropped as soon as they are parsed.
        if media == JSON:
            batches = self._json(body)
            del body
            yield from batches
            return
        frame = self._csv(body) if media == CSV else self._parquet(body)
        del body
        batches = self._frame_batches(frame)
        del frame
        yield from batches

    # ------------------------------------------------------------------------ JSON

    def _json(self, body: bytes) -> Iterator[Batch]:
        try:
            # As json.loads decodes bytes, done here so the bytes can go before parsing.
            text = body.decode(json.detect_encoding(body), "surrogatepass")
            del body
            payload = json.loads(text)
            del text
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"The body is not valid JSON: {_first_line(exc)}") from None
        if not isinstance(payload, dict):
            raise BadRequestError(
                f"The body must be a JSON object with exactly one of {_keys()}; "
                f"got {_kind(payload)}."
            )
        present = [key for key in INPUT_KEYS if key in payload]
        if len(present) != 1:
            found = ", ".join(present) or "none (keys: " + ", ".join(map(str, payload)) + ")"
            raise BadRequestError(f"The body must hold exactly one of {_keys()}; found {found}.")
        key = present[0]
        data = payload.pop(key)
        del payload
        if key == "dataframe_split":
            rows = self._split(data)
        elif key == "dataframe_records":
            if not isinstance(data, list):
                raise BadRequestError(
                    f"dataframe_records must be a list of rows; got {_kind(data)}."
                )
            rows = self._dict_rows(data, key)
        else:
            rows = self._inputs(data, key)
        del data
        yield from self._row_batches(rows)

    def _dict_rows(self, rows: list[Any], key: str) -> _Rows:
        """Rows as objects keyed by column name (records, or inputs and instances as rows)."""
        present = rows[0].keys() if rows and isinstance(rows[0], dict) else set()
        if any(name not in present for name in self.names):
            # The first row lacks a column: a schema mismatch if no row has it.
            seen: set[Any] = set()
            for row in rows:
                if isinstance(row, dict):
                    seen.update(row)
            self._require(seen, f"the rows of {key}")
        getter = self._row_values

        def take(start: int, stop: int) -> list[tuple[Any, ...]]:
            return [getter(row) for row in rows[start:stop]]

        def explain(start: int, stop: int) -> InvocationError:
            for number, row in enumerate(rows[start:stop], start):
                if not isinstance(row, dict):
                    return BadRequestError(f"Row {number} of {key} is {_kind(row)}, not an object.")
                for feature in self.features:
                    if feature.required and feature.name not in row:
                        return InvalidValueError(
                            f"Row {number}, column {feature.name!r}: a value is required; "
                            "the row has none."
                        )
            return BadRequestError(f"The rows of {key} are not objects of column values.")

        return _Rows(len(rows), take, explain)

    def _split(self, value: Any) -> _Rows:
        if not isinstance(value, dict):
            raise BadRequestError(f"dataframe_split must be an object; got {_kind(value)}.")
        if "data" not in value or set(value) - _SPLIT_KEYS:
            raise BadRequestError(
                "dataframe_split takes data and, optionally, columns and index; "
                f"got {', '.join(sorted(map(str, value))) or 'nothing'}."
            )
        data, columns, index = value["data"], value.get("columns"), value.get("index")
        if not isinstance(data, list):
            raise BadRequestError(
                f"dataframe_split data must be a list of rows; got {_kind(data)}."
            )
        if columns is None:
            raise SchemaMismatchError(
                "dataframe_split names no columns; the model needs "
                + ", ".join(map(repr, self.names))
                + "."
            )
        if not isinstance(columns, list) or any(isinstance(c, (list, dict)) for c in columns):
            raise BadRequestError("dataframe_split columns must be a list of column names.")
        if isinstance(index, list) and len(index) != len(data):
            raise BadRequestError(
                f"dataframe_split index has {len(index)} entries for {len(data)} rows."
            )
        twice = [name for name in self.names if columns.count(name) > 1]
        if twice:
            raise SchemaMismatchError(
                "dataframe_split names a column more than once: "
                + ", ".join(map(repr, twice))
                + "; send each column once."
            )
        self._require(set(columns), "dataframe_split columns")
        width = len(columns)
        positions = [columns.index(name) if name in columns else None for name in self.names]
        in_order = positions == list(range(width))
        pick = _position_getter(positions)

        def take(start: int, stop: int) -> Sequence[Sequence[Any]]:
            chunk = data[start:stop]
            for number, row in enumerate(chunk, start):
                if not isinstance(row, list) or len(row) != width:
                    raise BadRequestError(
                        f"dataframe_split data row {number} must be a list of {width} values; "
                        f"got {_kind(row) if not isinstance(row, list) else len(row)}."
                    )
            return chunk if in_order else [pick(row) for row in chunk]

        def explain(start: int, stop: int) -> InvocationError:  # pragma: no cover - take checks
            return BadRequestError("dataframe_split data rows do not match its columns.")

        return _Rows(len(data), take, explain)

    def _inputs(self, value: Any, key: str) -> _Rows:
        """``inputs`` and ``instances``: rows, or one list of values per column."""
        if isinstance(value, list) and any(isinstance(row, dict) for row in value):
            return self._dict_rows(value, key)
        if isinstance(value, list) and len(self.features) == 1:
            value = {self.names[0]: value}  # MLflow reads a bare list as a lone column
        if isinstance(value, list):
            if not value:
                self._require(set(), key)
            raise SchemaMismatchError(
                f"{key} must be rows (objects keyed by column name) or an object of columns; "
                "got lists of bare values."
            )
        if not isinstance(value, dict):
            raise SchemaMismatchError(
                f"{key} must be rows or an object of columns; got {_kind(value)}."
            )
        self._require(set(value), key)
        lengths = {len(column) for column in value.values() if isinstance(column, list)}
        if len(lengths) > 1:
            # MLflow's two parsers disagree: `inputs` fails its schema check, `instances` its
            # parser, and the codes differ with them.
            error = SchemaMismatchError if key == "inputs" else BadRequestError
            raise error(f"The columns of {key} must all have the same number of values.")
        count = lengths.pop() if lengths else 1
        columns = [value.get(name) for name in self.names]

        def take(start: int, stop: int) -> list[tuple[Any, ...]]:
            parts = [
                column[start:stop] if isinstance(column, list) else repeat(column, stop - start)
                for column in columns
            ]
            return list(zip(*parts, strict=False))

        def explain(
            start: int, stop: int
        ) -> InvocationError:  # pragma: no cover - take cannot fail
            return BadRequestError(f"The columns of {key} cannot be read.")

        return _Rows(count, take, explain)

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

    def _row_batches(self, rows: _Rows) -> Iterator[Batch]:
        self._check_count(rows.count)
        for start in range(0, rows.count, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, rows.count)
            try:
                chunk = rows.take(start, stop)
            except (KeyError, TypeError, IndexError, AttributeError):
                raise rows.explain(start, stop) from None
            yield self._convert(chunk, start)

    def _convert(self, chunk: Sequence[Sequence[Any]], start: int) -> Batch:
        """Rows of raw JSON values (feature order) as the predictor's typed batch."""
        if self.doubles:
            try:
                matrix = np.array(chunk, dtype=np.float64)
            except (ValueError, TypeError, OverflowError):
                raise self._locate(chunk, start) from None
            if matrix.shape != (len(chunk), len(self.features)):
                raise self._locate(chunk, start)
            self._check_finite(matrix, start, chunk)
            return matrix
        columns = list(zip(*chunk, strict=True)) or [() for _ in self.features]
        arrays = {
            feature.name: _column(feature, values, start)
            for feature, values in zip(self.features, columns, strict=True)
        }
        return self._batch(arrays)

    def _batch(self, arrays: dict[str, Any]) -> Batch:
        if self.numeric:
            return np.column_stack([np.asarray(arrays[name], np.float64) for name in self.names])
        return arrays

    def _check_finite(
        self, matrix: npt.NDArray[np.float64], start: int, chunk: Sequence[Sequence[Any]]
    ) -> None:
        finite = np.isfinite(matrix)
        if finite.all():
            return
        # An optional column may be missing (NaN); infinity is refused everywhere.
        bad = ~finite & ~(np.isnan(matrix) & self.optional)
        if not bad.any():
            return
        row, column = (int(i) for i in np.argwhere(bad)[0])
        value = chunk[row][column]
        problem = _MISSING if value is None else _NOT_FINITE
        raise InvalidValueError(f"Row {start + row}, column {self.names[column]!r}: {problem}")

    def _locate(self, chunk: Sequence[Sequence[Any]], start: int) -> InvocationError:
        """The first value in ``chunk`` that cannot be converted, as one clear line."""
        for number, row in enumerate(chunk, start):
            for feature, value in zip(self.features, row, strict=False):
                try:
                    _convert_value(value, feature)
                except _RefusedError as exc:
                    return InvalidValueError(f"Row {number}, column {feature.name!r}: {exc}")
        return BadRequestError("The rows cannot be read as the model's columns.")

    # ------------------------------------------------------------------ CSV, Parquet

    def _csv(self, body: bytes) -> pd.DataFrame:
        try:
            header = next(csv.reader(io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig")))
        except UnicodeDecodeError as exc:
            raise BadRequestError(f"The CSV body is not valid UTF-8: {_first_line(exc)}") from None
        except (StopIteration, csv.Error):
            raise BadRequestError(
                "The CSV body is empty or unreadable; send a header line."
            ) from None
        self._refuse_repeated(header, "The CSV header")
        dtypes = {f.name: _CSV_DTYPES[f.type] for f in self.features if f.type in _CSV_DTYPES}
        try:
            return pd.read_csv(io.BytesIO(body), dtype=dtypes, encoding="utf-8")
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
            raise self._csv_error(body) from None

    def _csv_error(self, body: bytes) -> InvocationError:
        """Which value of a CSV body failed to parse, found again without the typed parser."""
        try:
            frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
        except (ValueError, UnicodeDecodeError) as exc:
            return BadRequestError(f"The CSV body cannot be read: {_first_line(exc)}")
        for feature in self.features:
            if feature.name in frame.columns and feature.type in _NUMBERS:
                values = frame[feature.name]
                failed = pd.to_numeric(values, errors="coerce").isna() & (values != "")
                if failed.any():
                    row = int(np.argmax(failed.to_numpy()))
                    return InvalidValueError(
                        f"Row {row}, column {feature.name!r}: expected a number "
                        f"({feature.type}); got text that is not one."
                    )
        return BadRequestError("The CSV body cannot be read as the model's column types.")

    def _parquet(self, body: bytes) -> pd.DataFrame:
        if len(body) < _PARQUET_MIN_BYTES or not body.startswith(_PAR1) or not body.endswith(_PAR1):
            # Checked here too: fastparquet prints (to the access log's stdout) on some garbage.
            raise BadRequestError(
                "The Parquet body cannot be read: it does not start and end with PAR1."
            )
        reader = _parquet_reader()
        try:
            frame = reader(io.BytesIO(body))
        except Exception as exc:  # either engine raises its own types
            raise BadRequestError(f"The Parquet body cannot be read: {_first_line(exc)}") from None
        self._refuse_repeated(list(frame.columns), "The Parquet columns")
        for feature in self.features:
            if feature.name in frame.columns:
                values = frame[feature.name]
                if not _parquet_type_fits(values, feature.type):
                    raise SchemaMismatchError(
                        f"Column {feature.name!r} holds {values.dtype} values; the model takes "
                        f"{feature.type}."
                    )
        return frame

    def _refuse_repeated(self, header: list[Any], where: str) -> None:
        twice = [name for name in self.names if header.count(name) > 1]
        if twice:
            raise SchemaMismatchError(
                f"{where} names a column more than once: "
                + ", ".join(map(repr, twice))
                + "; send each column once."
            )

    def _frame_batches(self, frame: pd.DataFrame) -> Iterator[Batch]:
        self._require(set(frame.columns), "the columns")
        self._check_count(len(frame))
        arrays = {
            feature.name: _frame_column(feature, frame[feature.name])
            if feature.name in frame.columns
            else np.full(len(frame), None, dtype=object)
            for feature in self.features
        }
        del frame
        batch = self._batch(arrays)
        del arrays
        count = len(batch) if isinstance(batch, np.ndarray) else len(batch[self.names[0]])
        for start in range(0, count, CHUNK_ROWS):
            stop = start + CHUNK_ROWS
            if isinstance(batch, np.ndarray):
                yield batch[start:stop]
            else:
                yield {name: values[start:stop] for name, values in batch.items()}


_NUMBERS = {"double", "float", "long", "integer"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_PAR1 = b"PAR1"
_PARQUET_MIN_BYTES = 12  # the two markers and the footer's length
_MISSING = "a value is required; got null or nothing."
_NOT_FINITE = "NaN and infinity are not accepted."


def _row_getter(features: Sequence[Feature]) -> Callable[[Any], tuple[Any, ...]]:
    """A row object's values in feature order (raising KeyError when a required one is absent)."""
    names = [feature.name for feature in features]
    if any(not feature.required for feature in features):
        return lambda row: tuple(row[f.name] if f.required else row.get(f.name) for f in features)
    if len(names) == 1:
        return lambda row: (row[names[0]],)
    return itemgetter(*names)


def _parquet_reader() -> Callable[[io.BytesIO], pd.DataFrame]:
    """The reader: pyarrow's through pandas, else fastparquet's own (pandas drops its wrapper).

    Raises:
        UnsupportedMediaError: neither is installed.
    """
    engine = PARQUET_ENGINE or ("pyarrow" if importlib.util.find_spec("pyarrow") else "fastparquet")
    if engine == "pyarrow":
        return lambda buffer: pd.read_parquet(buffer, engine="pyarrow")
    try:
        with warnings.catch_warnings():  # it reads a pandas option pandas 3 deprecates
            warnings.simplefilter("ignore")
            fastparquet: Any = importlib.import_module("fastparquet")
    except ImportError:
        raise UnsupportedMediaError(
            "Parquet bodies need pyarrow or fastparquet installed beside the server."
        ) from None
    return lambda buffer: fastparquet.ParquetFile(buffer).to_pandas()


def _position_getter(positions: list[int | None]) -> Callable[[list[Any]], tuple[Any, ...]]:
    if None in positions or len(positions) == 1:
        return lambda row: tuple(None if p is None else row[p] for p in positions)
    return itemgetter(*positions)


def _column(feature: Feature, values: Sequence[Any], start: int) -> npt.NDArray[Any]:
    """One column of raw JSON values converted to its signature type."""
    dtype = _DTYPES.get(feature.type, np.float64)
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
            converted.append(_convert_value(value, feature))
        except _RefusedError as exc:
            raise InvalidValueError(f"Row {number}, column {feature.name!r}: {exc}") from None
    return np.array(converted, dtype=object if None in converted else dtype)


def _convert_value(value: Any, feature: Feature) -> Any:  # noqa: PLR0912
    """``value`` as ``feature``'s type, by MLflow's rules where they are safe.

    Raises:
        _RefusedError: the value does not convert, or converting it would change its meaning.
    """
    kind = feature.type
    if value is None:
        if feature.required:
            raise _RefusedError(_MISSING)
        return None
    if isinstance(value, (list, dict)):
        raise _RefusedError(f"expected a single value ({kind}); got {_kind(value)}.")
    if kind == "string":
        if not isinstance(value, str):
            raise _RefusedError(f"expected text; got {_kind(value)}.")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise _RefusedError(
            f"expected true or false (or 0 or 1); got {_kind(value)}"
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
            raise _RefusedError(f"out of range for a {_INT_BITS[kind]}-bit integer ({kind}).")
        return number
    try:
        converted = float(value)
    except OverflowError:
        raise _RefusedError(f"out of range for a number ({kind}).") from None
    except (ValueError, TypeError):
        raise _RefusedError(
            f"expected a number ({kind}); got {_kind(value)} that is not one."
        ) from None
    if not math.isfinite(converted):
        raise _RefusedError(_NOT_FINITE)
    if kind == "float" and abs(converted) > _FLOAT32_MAX:
        raise _RefusedError(f"out of range for a 32-bit number ({kind}).")
    return converted


def _integer(value: Any, kind: str) -> int:
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _RefusedError(_NOT_FINITE)
        if not value.is_integer():
            raise _RefusedError(
                f"expected a whole number ({kind}); got a fraction (MLflow would truncate it)."
            )
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise _RefusedError(
                f"expected a whole number ({kind}); got text that is not one."
            ) from None
    raise _RefusedError(f"expected a whole number ({kind}); got {_kind(value)}.")


def _frame_column(feature: Feature, values: pd.Series) -> npt.NDArray[Any]:
    """A CSV or Parquet column (already of a type MLflow accepts) checked and converted."""
    dtype = _DTYPES.get(feature.type, np.float64)
    if not is_object_dtype(values.dtype) and dtype is not object:
        array = values.to_numpy()
        if array.dtype.kind == "f":
            with np.errstate(over="ignore"):
                array = array.astype(dtype)
            allowed = np.isfinite(array) | (np.isnan(array) & (not feature.required))
            if not allowed.all():
                row = int(np.argmin(allowed))
                problem = _MISSING if np.isnan(array[row]) else _NOT_FINITE
                raise InvalidValueError(f"Row {row}, column {feature.name!r}: {problem}")
        return array.astype(dtype)
    raw = values.to_numpy(dtype=object)
    converted: list[Any] = []
    for number, value in enumerate(raw):
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        try:
            converted.append(_convert_value(None if missing else value, feature))
        except _RefusedError as exc:
            raise InvalidValueError(f"Row {number}, column {feature.name!r}: {exc}") from None
    return np.array(converted, dtype=object if None in converted else dtype)


def _parquet_type_fits(values: pd.Series, kind: str) -> bool:  # noqa: PLR0911
    """MLflow's rule for a typed column (``mlflow.models.utils._enforce_mlflow_datatype``).

    Same kind and no wider; small integers to a double; 0/1 int64 to a number;
    object columns are inferred first; strings and booleans only to themselves.
    """
    target = np.dtype(_DTYPES.get(kind, np.float64))
    dtype = values.dtype
    if is_object_dtype(dtype) and kind not in ("string", "boolean"):
        dtype = values.infer_objects().dtype
    if kind == "string" or (kind == "boolean" and is_object_dtype(dtype)):
        return is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)
    if not isinstance(dtype, np.dtype):
        return False
    if dtype == target:
        return True
    if dtype.kind == target.kind:
        return bool(dtype.itemsize <= target.itemsize)
    if dtype.kind == "u" and target.kind == "i":
        return bool(dtype.itemsize < target.itemsize)
    if dtype.kind in "iu" and target == np.float64 and dtype.itemsize <= 6:  # noqa: PLR2004
        return True
    if dtype == np.int64 and target.kind == "f":
        return bool(values.isin([0, 1]).all())
    return False


def _kind(value: Any) -> str:
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


def _keys() -> str:
    return ", ".join(INPUT_KEYS)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
