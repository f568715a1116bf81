"""MLflow's scoring protocol on ``POST /invocations``: a drop-in for ``mlflow models serve``.

Clients of MLflow's scoring server switch to this one without a change.
Accepted bodies, as MLflow documents them: JSON with exactly one of
``dataframe_records`` (a list of rows), ``dataframe_split`` (``columns`` and
``data``), ``instances`` or ``inputs`` (rows, or a mapping of column to
values), or a CSV body (``text/csv``). Errors answer in MLflow's shape:
``{"error_code": "BAD_REQUEST", "message": ...}``.
"""

import io
import json
from typing import Any

from ..errors import DataValidationError

INPUT_KEYS = ("dataframe_records", "dataframe_split", "instances", "inputs")


class UnsupportedMediaError(Exception):
    """The body is neither JSON nor CSV."""


def parse_rows(body: bytes, content_type: str) -> list[Any]:
    """The request's rows as a list of column mappings (not yet validated).

    Raises:
        DataValidationError: the body is malformed or uses none of the accepted keys.
        UnsupportedMediaError: the content type is neither JSON nor CSV.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/csv":
        return _csv_rows(body)
    if media not in {"application/json", ""}:
        raise UnsupportedMediaError(
            f"Content type {media!r} is not supported; send application/json or text/csv."
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DataValidationError("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise DataValidationError(f"The body must be a JSON object with one of {_keys()}.")
    present = [key for key in INPUT_KEYS if key in payload]
    if len(present) != 1:
        raise DataValidationError(
            f"The body must hold exactly one of {_keys()}; found "
            f"{', '.join(present) or 'none (keys: ' + ', '.join(map(str, payload)) + ')'}."
        )
    key = present[0]
    if key == "dataframe_split":
        return _split_rows(payload[key])
    return _records(payload[key], key)


def _keys() -> str:
    return ", ".join(INPUT_KEYS)


def _records(value: Any, key: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(isinstance(column, list) for column in value.values()):
        lengths = {len(column) for column in value.values()}
        if len(lengths) > 1:
            raise DataValidationError(f"{key}: every column must have the same length.")
        count = lengths.pop() if lengths else 0
        return [{name: column[i] for name, column in value.items()} for i in range(count)]
    if isinstance(value, dict):
        return [value]
    raise DataValidationError(f"{key} must be a list of rows or a mapping of columns.")


def _split_rows(value: Any) -> list[Any]:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise DataValidationError("dataframe_split must be an object with columns and data.")
    columns = value.get("columns")
    if not isinstance(columns, list):
        raise DataValidationError("dataframe_split needs columns: the list of column names.")
    rows = []
    for number, row in enumerate(value["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise DataValidationError(
                f"dataframe_split data row {number} must be a list of {len(columns)} values."
            )
        rows.append(dict(zip(columns, row, strict=True)))
    return rows


def _csv_rows(body: bytes) -> list[Any]:
    import pandas as pd  # noqa: PLC0415 - only CSV bodies need the parser

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"The CSV body cannot be read: {exc}") from None
    rows: list[Any] = frame.to_dict(orient="records")
    return rows
