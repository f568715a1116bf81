"""Request and response models built from the model's signature.

FastAPI validates every request against these before the model sees it, so
a missing field, a wrong type, NaN or infinity is a 422 that names the field,
the same rule training data is held to, and the OpenAPI document describes
exactly the columns this model version takes.
"""

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from .bundle import Feature

_FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Integer = Annotated[int, Field(strict=True)]
_Boolean = Annotated[bool, Field(strict=True)]
_Text = Annotated[str, Field(strict=True)]
_TYPES: dict[str, Any] = {
    "double": _FiniteNumber,
    "float": _FiniteNumber,
    "long": _Integer,
    "integer": _Integer,
    "boolean": _Boolean,
    "string": _Text,
}


def record_model(
    features: Sequence[Feature], *, extra: Literal["forbid", "ignore"] = "forbid"
) -> type[BaseModel]:
    """A pydantic model of one input row, fields named (by alias) as the columns.

    Column names need not be identifiers ("mean radius"), so fields get
    positional names and carry the column as their alias.
    """
    fields: dict[str, Any] = {}
    for position, feature in enumerate(features):
        annotation = _TYPES.get(feature.type, _FiniteNumber)
        if feature.required:
            fields[f"column_{position}"] = (annotation, Field(alias=feature.name))
        else:
            fields[f"column_{position}"] = (annotation | None, Field(None, alias=feature.name))
    return create_model(
        "Record",
        __config__=ConfigDict(extra=extra, populate_by_name=False),
        **fields,
    )


def predict_request_model(record: type[BaseModel], max_rows: int | None = None) -> type[BaseModel]:
    """``{"records": [row, ...]}``: one row or a batch of up to ``max_rows`` (no limit: None)."""
    rows = Annotated[list[record], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(rows, ...),
    )


class ModelInfo(BaseModel):
    """Which model answered: clients log it beside the prediction."""

    version: str
    registry_version: str
    git_sha: str | None


class PredictResponse(BaseModel):
    """Predictions in request order, the model that made them and the request's id."""

    predictions: list[float | int | str | bool]
    model: ModelInfo
    prediction_id: str


class InvocationsResponse(BaseModel):
    """MLflow's scoring-server answer: one ``{"prediction": value}`` per row."""

    predictions: list[dict[str, float | int | str | bool]]


class MlflowError(BaseModel):
    """MLflow's scoring-server error body, kept so its clients parse our errors too."""

    error_code: str
    message: str
    sqlstate: str
    error_class: str


#: The bodies ``POST /invocations`` takes, for the OpenAPI document (parsed by hand).
INVOCATIONS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Exactly one of dataframe_records, dataframe_split, "
                    "instances or inputs, as MLflow's scoring server takes them.",
                }
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
