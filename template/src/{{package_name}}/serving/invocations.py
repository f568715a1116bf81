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

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from .bundle import Feature
from .invocation_json import INPUT_KEYS, JsonReader
from .invocation_tables import CsvReader, ParquetReader
from .invocation_values import (
    CHUNK_ROWS,
    BadRequestError,
    Batch,
    InvalidValueError,
    InvocationError,
    SchemaMismatchError,
    TooManyRowsError,
    UnsupportedMediaError,
)

__all__ = [
    "CHUNK_ROWS",
    "CONTENT_TYPES",
    "CSV",
    "INPUT_KEYS",
    "JSON",
    "PARQUET",
    "BadRequestError",
    "Batch",
    "BodyReader",
    "InvalidValueError",
    "InvocationError",
    "Reader",
    "SchemaMismatchError",
    "TooManyRowsError",
    "UnsupportedMediaError",
    "error_body",
    "media_type",
    "records",
]

JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
#: In MLflow's order: its 415 message lists them so.
CONTENT_TYPES = (CSV, JSON, PARQUET)
#: MLflow derives both from the error code (``mlflow.exceptions.MlflowException``).
_ERROR_CLASSES = {
    "BAD_REQUEST": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_PARAMETER_VALUE": ("KAM01", "SCHEMA_ENFORCEMENT_FAILED"),
}


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


class BodyReader(Protocol):
    """One content type's reader: a body in, converted batches out (lazily)."""

    def read(self, body: bytes) -> Iterator[Batch]: ...  # noqa: D102


class Reader:
    """Read ``/invocations`` bodies for one model signature into converted batches.

    One reader per content type (:mod:`.invocation_json`, :mod:`.invocation_tables`),
    all converting values by the same rules (:mod:`.invocation_values`).
    """

    def __init__(
        self, features: Sequence[Feature], *, numeric: bool, max_rows: int | None = None
    ) -> None:
        """Read for ``features`` (the signature's columns, in the model's order).

        ``numeric``: batches are float matrices (the predictor's numeric path), not
        columns; ``max_rows``: the most rows one request may carry (None: no limit).
        """
        self.readers: dict[str, BodyReader] = {
            media: reader(features, numeric=numeric, max_rows=max_rows)
            for media, reader in ((JSON, JsonReader), (CSV, CsvReader), (PARQUET, ParquetReader))
        }

    def read(self, body: bytes, content_type: str | None) -> Iterator[Batch]:
        """Converted batches of at most :data:`CHUNK_ROWS` rows, in request order.

        The media type is checked at once; everything else as the batches are drawn
        (lazily, so the caller decides where the parsing runs: a worker thread for large
        bodies), and the body's structure before the first batch.

        Raises:
            InvocationError: in MLflow's terms (see the module's docstring).
        """
        return self.readers[media_type(content_type)].read(body)
