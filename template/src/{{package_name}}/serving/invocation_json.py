"""``/invocations`` JSON bodies: exactly one of :data:`INPUT_KEYS`, as MLflow reads them.

The body is parsed once; rows are then taken, converted and predicted
:data:`~.invocation_values.CHUNK_ROWS` at a time, so a request never exists as
parsed rows, a matrix and a DataFrame at once.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from .bundle import Feature
from .invocation_values import (
    CHUNK_ROWS,
    MISSING,
    NOT_FINITE,
    BadRequestError,
    Batch,
    Columns,
    InvalidValueError,
    InvocationError,
    RefusedError,
    SchemaMismatchError,
    convert_column,
    convert_value,
    first_line,
    kind_of,
)

INPUT_KEYS = ("dataframe_records", "dataframe_split", "instances", "inputs")
_SPLIT_KEYS = {"columns", "data", "index"}


@dataclass(frozen=True)
class _Rows:
    """A parsed JSON table: ``take(a, b)`` gives rows ``a``..``b`` as tuples in feature order."""

    count: int
    take: Callable[[int, int], Sequence[Sequence[Any]]]
    #: The precise error when ``take`` failed on a row's shape (not on a value).
    explain: Callable[[int, int], InvocationError]


class JsonReader(Columns):
    """Read JSON bodies holding exactly one of :data:`INPUT_KEYS`."""

    def __init__(
        self, features: Sequence[Feature], *, numeric: bool, max_rows: int | None = None
    ) -> None:
        """Read for ``features``; see :class:`~.invocation_values.Columns`."""
        super().__init__(features, numeric=numeric, max_rows=max_rows)
        self._row_values = _row_getter(self.features)

    def read(self, body: bytes) -> Iterator[Batch]:
        """Converted batches, in request order; the structure is checked before the first.

        Raises:
            InvocationError: in MLflow's terms (see :mod:`.invocations`).
        """
        try:
            # As json.loads decodes bytes, done here so the bytes can go before parsing.
            text = body.decode(json.detect_encoding(body), "surrogatepass")
            del body
            payload = json.loads(text)
            del text
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"The body is not valid JSON: {first_line(exc)}") from None
        if not isinstance(payload, dict):
            raise BadRequestError(
                f"The body must be a JSON object with exactly one of {_keys()}; "
                f"got {kind_of(payload)}."
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
                    f"dataframe_records must be a list of rows; got {kind_of(data)}."
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
                    return BadRequestError(
                        f"Row {number} of {key} is {kind_of(row)}, not an object."
                    )
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
            raise BadRequestError(f"dataframe_split must be an object; got {kind_of(value)}.")
        if "data" not in value or set(value) - _SPLIT_KEYS:
            raise BadRequestError(
                "dataframe_split takes data and, optionally, columns and index; "
                f"got {', '.join(sorted(map(str, value))) or 'nothing'}."
            )
        data, columns, index = value["data"], value.get("columns"), value.get("index")
        if not isinstance(data, list):
            raise BadRequestError(
                f"dataframe_split data must be a list of rows; got {kind_of(data)}."
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
                        f"got {kind_of(row) if not isinstance(row, list) else len(row)}."
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
                f"{key} must be rows or an object of columns; got {kind_of(value)}."
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
            feature.name: convert_column(feature, values, start)
            for feature, values in zip(self.features, columns, strict=True)
        }
        return self._batch(arrays)

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
        problem = MISSING if value is None else NOT_FINITE
        raise InvalidValueError(f"Row {start + row}, column {self.names[column]!r}: {problem}")

    def _locate(self, chunk: Sequence[Sequence[Any]], start: int) -> InvocationError:
        """The first value in ``chunk`` that cannot be converted, as one clear line."""
        for number, row in enumerate(chunk, start):
            for feature, value in zip(self.features, row, strict=False):
                try:
                    convert_value(value, feature)
                except RefusedError as exc:
                    return InvalidValueError(f"Row {number}, column {feature.name!r}: {exc}")
        return BadRequestError("The rows cannot be read as the model's columns.")

    # ------------------------------------------------------------------ CSV, Parquet


def _row_getter(features: Sequence[Feature]) -> Callable[[Any], tuple[Any, ...]]:
    """A row object's values in feature order (raising KeyError when a required one is absent)."""
    names = [feature.name for feature in features]
    if any(not feature.required for feature in features):
        return lambda row: tuple(row[f.name] if f.required else row.get(f.name) for f in features)
    if len(names) == 1:
        return lambda row: (row[names[0]],)
    return itemgetter(*names)


def _position_getter(positions: list[int | None]) -> Callable[[list[Any]], tuple[Any, ...]]:
    if None in positions or len(positions) == 1:
        return lambda row: tuple(None if p is None else row[p] for p in positions)
    return itemgetter(*positions)


def _keys() -> str:
    return ", ".join(INPUT_KEYS)
