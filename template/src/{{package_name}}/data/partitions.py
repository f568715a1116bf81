"""A large batch as partitions: one file, a Parquet file's row groups, or a directory of files.

Batch scoring and drift checks never hold a whole batch in memory: they see
it as a sequence of :class:`Partition` s of at most about
``compute.partition_rows`` rows, each read by the task that processes it. A
Parquet partition is a file path and a list of row groups, so a worker reads
it itself; a CSV file has no index to seek to, so this process reads it in
chunks, and each chunk travels to its task. A directory is read as Dask and
Spark write one: every ``*.parquet`` file below it in name order, skipping
names that start with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` files).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataValidationError
from .batch import ACCEPTED, feature_matrix

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
ACCEPTED_INPUTS = f"{ACCEPTED}, or a directory of Parquet files"


@dataclass(frozen=True)
class Partition:
    """Rows ``first_row`` onwards of ``source``: what one task reads and processes."""

    index: int
    source: Path
    #: The input's relative name for the file (its name, or its path below the directory).
    name: str
    #: Row number of this partition's first row within ``source``.
    first_row: int
    #: Parquet: the row groups to read (``None``: the whole file).
    row_groups: tuple[int, ...] | None = None
    #: CSV: the rows, already read by the driver.
    rows: pd.DataFrame | None = None

    def __sizeof__(self) -> int:
        """Bytes it carries: a CSV chunk's rows, or next to nothing for a Parquet partition."""
        rows = 0 if self.rows is None else int(self.rows.memory_usage(index=True).sum())
        return object.__sizeof__(self) + rows

    def describe(self) -> str:
        """How an error names the partition: the file, and which rows when it is split."""
        if self.rows is not None:
            return f"{self.name} rows {self.first_row}-{self.first_row + len(self.rows) - 1}"
        if self.row_groups is None:
            return self.name
        first, last = self.row_groups[0], self.row_groups[-1]
        return f"{self.name} row group {first}" + (f"-{last}" if last != first else "")

    def read(self) -> pd.DataFrame:
        """The partition's rows.

        Raises:
            DataValidationError: the file is not readable Parquet; the partition is named.
        """
        if self.rows is not None:
            return self.rows
        frame: pd.DataFrame = self._parquet_table().to_pandas()
        return frame

    def feature_matrix(self, features: Sequence[str]) -> npt.NDArray[np.float64]:
        """The partition's ``features`` as a checked float64 matrix (:func:`.batch.feature_matrix`).

        A Parquet partition reads only those columns, and numbers go from Arrow
        straight into the matrix: no DataFrame, about half the time of
        :meth:`read` and no copy of the other columns. Anything that path does not
        take (a missing feature, text, nulls, a non-finite value) goes through the
        DataFrame checks, which name what is wrong. A partition with no rows but
        every feature (Spark writes such files) gives a matrix of no rows.

        Raises:
            DataValidationError: the file is not readable Parquet, or a feature is
                missing, non-numeric, null or infinite.
        """
        if self.rows is not None:
            return feature_matrix(self.rows, features)
        table = self._parquet_table(features)
        if table.num_rows == 0 and set(features) <= set(table.column_names):
            return np.empty((0, len(features)))
        matrix = _numeric_matrix(table, features)
        return matrix if matrix is not None else feature_matrix(table.to_pandas(), features)

    def _parquet_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The partition's row groups as an Arrow table (only ``columns`` the file has, if given).

        Raises:
            DataValidationError: the file is not readable as Parquet; the partition is named.
        """
        import pyarrow.parquet as pq  # noqa: PLC0415 - the lifecycle extra's reader

        try:
            parquet = pq.ParquetFile(self.source)
            present = parquet.schema_arrow.names
            names = None if columns is None else [name for name in columns if name in present]
            groups = self.row_groups
            if groups is None:
                return parquet.read(columns=names)
            return parquet.read_row_groups(list(groups), columns=names)
        except (OSError, ValueError) as exc:
            raise DataValidationError(
                f"{self.describe()}: not readable as Parquet ({_first_line(exc)})"
            ) from None


def _numeric_matrix(table: pa.Table, features: Sequence[str]) -> npt.NDArray[np.float64] | None:
    """``features`` of ``table`` as a float64 matrix if all are finite numbers, else ``None``.

    Column-major, as a DataFrame's values are, so that a model sees the same
    memory layout (and gives the same last bits) as on the DataFrame path.
    """
    from pyarrow import types  # noqa: PLC0415 - the lifecycle extra's reader

    names = table.column_names
    if not set(features) <= set(names) or len(set(names)) != len(names):
        return None
    matrix = np.empty((table.num_rows, len(features)), dtype=np.float64, order="F")
    for index, name in enumerate(features):
        column = table.column(name)
        number = types.is_integer(column.type) or types.is_floating(column.type)
        if column.null_count or not number:
            return None
        matrix[:, index] = column.to_numpy()
    return matrix if np.isfinite(matrix).all() else None


def partitions(path: Path, rows_per_partition: int) -> Iterator[Partition]:
    """The partitions of a CSV/Parquet file or a directory of Parquet files, lazily.

    Raises:
        DataValidationError: the path is missing, of an unknown type, an empty
            directory, or a file that cannot be opened; the message names it.
    """
    if path.is_dir():
        files = parquet_files(path)
        if not files:
            raise DataValidationError(
                f"{path}: no Parquet files (*.parquet) in the directory; pass {ACCEPTED_INPUTS}."
            )
        sources = [(file, file.relative_to(path).as_posix()) for file in files]
    elif path.is_file():
        sources = [(path, path.name)]
    else:
        raise DataValidationError(f"{path}: not found; pass {ACCEPTED_INPUTS}.")
    index = 0
    for source, name in sources:
        for partition in _file_partitions(source, name, index, rows_per_partition):
            yield partition
            index += 1


def parquet_files(directory: Path) -> list[Path]:
    """Every Parquet file below ``directory``, in name order, hidden and ``_`` names skipped."""
    return sorted(
        file
        for file in directory.rglob("*")
        if file.is_file()
        and file.suffix.lower() in PARQUET_SUFFIXES
        and not any(part.startswith(("_", ".")) for part in file.relative_to(directory).parts)
    )


def content_digest(path: Path) -> str:
    """SHA-256 of a file, or of a directory's Parquet files (names and bytes, in order)."""
    digest = hashlib.sha256()
    files = parquet_files(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def _file_partitions(
    source: Path, name: str, start: int, rows_per_partition: int
) -> Iterator[Partition]:
    suffix = source.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        yield from _parquet_partitions(source, name, start, rows_per_partition)
    elif suffix in CSV_SUFFIXES:
        yield from _csv_partitions(source, name, start, rows_per_partition)
    else:
        raise DataValidationError(
            f"{source}: unknown file type {suffix or '(no extension)'!r}; pass {ACCEPTED_INPUTS}."
        )


def _parquet_partitions(
    source: Path, name: str, start: int, rows_per_partition: int
) -> Iterator[Partition]:
    """Consecutive row groups, gathered until a partition holds ``rows_per_partition`` rows."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        metadata = pq.ParquetFile(source).metadata
    except (OSError, ValueError) as exc:
        raise DataValidationError(
            f"{name}: not readable as Parquet ({_first_line(exc)}); pass {ACCEPTED_INPUTS}."
        ) from None
    groups: list[int] = []
    first_row = rows = 0
    index = start
    for group in range(metadata.num_row_groups):
        groups.append(group)
        rows += metadata.row_group(group).num_rows
        if rows >= rows_per_partition or group == metadata.num_row_groups - 1:
            whole = first_row == 0 and group == metadata.num_row_groups - 1
            yield Partition(index, source, name, first_row, None if whole else tuple(groups))
            index += 1
            first_row += rows
            groups, rows = [], 0
    if metadata.num_row_groups == 0:
        yield Partition(index, source, name, 0)


def _csv_partitions(
    source: Path, name: str, start: int, rows_per_partition: int
) -> Iterator[Partition]:
    """Chunks of ``rows_per_partition`` rows, read as :func:`.batch.read_batch` reads a CSV."""
    if source.stat().st_size == 0:
        raise DataValidationError(f"{name}: the file is empty; pass {ACCEPTED_INPUTS}.")
    first_row = 0
    try:
        with pd.read_csv(source, sep=",", encoding="utf-8", chunksize=rows_per_partition) as chunks:
            for offset, chunk in enumerate(chunks):
                yield Partition(start + offset, source, name, first_row, rows=chunk)
                first_row += len(chunk)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataValidationError(
            f"{name} from row {first_row}: not readable as CSV ({_first_line(exc)}); "
            f"pass {ACCEPTED_INPUTS}."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
