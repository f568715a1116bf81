"""Reading a batch of rows to score: CSV or Parquet, with one clear error per problem.

Files come from users and upstream jobs, so every way a file can be wrong
(missing, empty, not CSV, a corrupt Parquet file, a header and no rows, a
value that is not a finite number) ends in one
:class:`~..errors.DataValidationError` that names the file, instead of a
parser's traceback.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataValidationError

ACCEPTED = "a CSV file with a header row, or a Parquet file (.parquet), of feature columns"
_MAX_REPORTED_FAILURES = 5


def read_batch(path: Path) -> pd.DataFrame:
    """Read ``path`` as a table of rows to score.

    Raises:
        DataValidationError: the file is missing, empty or not a readable table.
    """
    if not path.is_file():
        raise DataValidationError(f"{path}: file not found; pass {ACCEPTED}.")
    if path.stat().st_size == 0:
        raise DataValidationError(f"{path}: the file is empty; pass {ACCEPTED}.")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=",", encoding="utf-8")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataValidationError(
            f"{path}: not readable as a table ({detail}); pass {ACCEPTED}."
        ) from None


def feature_frame(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The ``features`` columns of ``frame`` as finite float64 numbers, in that order.

    The rule training rows and the server's requests are held to (numeric,
    non-null, finite), checked with pandas alone so that scoring a file
    imports no validation library. Extra columns (an id, the target of a
    labelled batch) are allowed and dropped.

    Raises:
        DataValidationError: a feature column is missing, non-numeric, null or infinite.
    """
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"missing {len(missing)} feature column(s): {', '.join(missing)}; "
            f"expected: {', '.join(features)}"
        )
    if frame.empty:
        raise DataValidationError("no rows to predict (only a header)")
    columns: dict[str, pd.Series] = {}
    failures: list[str] = []
    for name in features:
        given = frame[name]
        numbers = pd.to_numeric(given, errors="coerce").astype(np.float64)
        for check, failed in (
            ("coerce_dtype('float64')", numbers.isna() & given.notna()),
            ("not_nullable", given.isna()),
            ("finite", np.isinf(numbers)),
        ):
            if failed.any():
                examples = ", ".join(map(str, given[failed].head(3).tolist()))
                failures.append(
                    f"column {name!r} fails {check} ({int(failed.sum())} rows, e.g. {examples})"
                )
        columns[name] = numbers
    if failures:
        shown = failures[:_MAX_REPORTED_FAILURES]
        more = f"; and {len(failures) - len(shown)} more" if len(failures) > len(shown) else ""
        raise DataValidationError("Data validation failed: " + "; ".join(shown) + more + ".")
    return pd.DataFrame(columns, index=frame.index)


def feature_matrix(frame: pd.DataFrame, features: Sequence[str]) -> npt.NDArray[np.float64]:
    """The ``features`` columns of ``frame`` as a float64 matrix, by :func:`feature_frame`'s rule.

    Numeric columns are checked in one vectorised pass (a million rows in
    milliseconds); only when that finds a problem, or a column is not numeric,
    does :func:`feature_frame` look column by column to say what is wrong.

    Raises:
        DataValidationError: as :func:`feature_frame`.
    """
    if all(name in frame.columns for name in features) and not frame.empty:
        columns = frame[list(features)]
        if all(_plain_number(columns[name]) for name in features):
            try:
                matrix = columns.to_numpy(dtype=np.float64)
            except (TypeError, ValueError):  # a nullable integer column holding <NA>
                matrix = None
            if matrix is not None and np.isfinite(matrix).all():
                return matrix
    checked: npt.NDArray[np.float64] = feature_frame(frame, features).to_numpy(dtype=np.float64)
    return checked


def _plain_number(column: pd.Series) -> bool:
    """Integers or floats that convert to float64 as they are (not booleans, not text)."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
