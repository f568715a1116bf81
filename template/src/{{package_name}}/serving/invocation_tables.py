"""``/invocations`` CSV and Parquet bodies: a typed table, converted and sliced into batches."""

import csv
import importlib
import importlib.util
import io
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_object_dtype

from .invocation_values import (
    CHUNK_ROWS,
    DTYPES,
    NUMBERS,
    BadRequestError,
    Batch,
    Columns,
    InvalidValueError,
    InvocationError,
    SchemaMismatchError,
    UnsupportedMediaError,
    convert_frame_column,
    first_line,
)

#: Parquet reader: pyarrow when installed (the project's environment), else fastparquet
#: (the serving image, where pyarrow would not fit the size budget); or name one.
PARQUET_ENGINE: str | None = None
# pandas' dtype per signature type, as MLflow's server passes it to `read_csv`.
_CSV_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
_CSV_DTYPES |= {"boolean": "bool", "string": "object"}
_PAR1 = b"PAR1"
_PARQUET_MIN_BYTES = 12  # the two markers and the footer's length


class TableReader(Columns, ABC):
    """What CSV and Parquet share: a parsed frame checked and sliced into converted batches."""

    def read(self, body: bytes) -> Iterator[Batch]:
        """Converted batches, in request order; the table is parsed before the first.

        Raises:
            InvocationError: in MLflow's terms (see :mod:`.invocations`).
        """
        frame = self._frame(body)
        del body
        batches = self._frame_batches(frame)
        del frame
        yield from batches

    @abstractmethod
    def _frame(self, body: bytes) -> pd.DataFrame:
        """The body parsed as a table whose columns hold types MLflow accepts."""

    def _frame_batches(self, frame: pd.DataFrame) -> Iterator[Batch]:
        self._require(set(frame.columns), "the columns")
        self._check_count(len(frame))
        arrays = {
            feature.name: convert_frame_column(feature, frame[feature.name])
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


class CsvReader(TableReader):
    """CSV with a header line, parsed with the signature's pandas types as MLflow's server does."""

    def _frame(self, body: bytes) -> pd.DataFrame:
        try:
            header = next(csv.reader(io.TextIOWrapper(io.BytesIO(body), encoding="utf-8-sig")))
        except UnicodeDecodeError as exc:
            raise BadRequestError(f"The CSV body is not valid UTF-8: {first_line(exc)}") from None
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
            return BadRequestError(f"The CSV body cannot be read: {first_line(exc)}")
        for feature in self.features:
            if feature.name in frame.columns and feature.type in NUMBERS:
                values = frame[feature.name]
                failed = pd.to_numeric(values, errors="coerce").isna() & (values != "")
                if failed.any():
                    row = int(np.argmax(failed.to_numpy()))
                    return InvalidValueError(
                        f"Row {row}, column {feature.name!r}: expected a number "
                        f"({feature.type}); got text that is not one."
                    )
        return BadRequestError("The CSV body cannot be read as the model's column types.")


class ParquetReader(TableReader):
    """Parquet, read with pyarrow or fastparquet (:data:`PARQUET_ENGINE`)."""

    def _frame(self, body: bytes) -> pd.DataFrame:
        if len(body) < _PARQUET_MIN_BYTES or not body.startswith(_PAR1) or not body.endswith(_PAR1):
            # Checked here too: fastparquet prints (to the access log's stdout) on some garbage.
            raise BadRequestError(
                "The Parquet body cannot be read: it does not start and end with PAR1."
            )
        reader = _parquet_reader()
        try:
            frame = reader(io.BytesIO(body))
        except Exception as exc:  # either engine raises its own types
            raise BadRequestError(f"The Parquet body cannot be read: {first_line(exc)}") from None
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


def _parquet_type_fits(values: pd.Series, kind: str) -> bool:  # noqa: PLR0911
    """MLflow's rule for a typed column (``mlflow.models.utils._enforce_mlflow_datatype``).

    Same kind and no wider; small integers to a double; 0/1 int64 to a number;
    object columns are inferred first; strings and booleans only to themselves.
    """
    target = np.dtype(DTYPES.get(kind, np.float64))
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
