"""Reading a batch of rows to score: CSV or Parquet, with one clear error per problem.

Files come from users and upstream jobs, so every way a file can be wrong
(missing, empty, not CSV, a corrupt Parquet file, a header and no rows) ends
in one :class:`~..errors.DataValidationError` that names the file, instead
of a parser's traceback.
"""

from pathlib import Path

import pandas as pd

from ..errors import DataValidationError

ACCEPTED = "a CSV file with a header row, or a Parquet file (.parquet), of feature columns"


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
