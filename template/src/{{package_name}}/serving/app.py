"""The HTTP API: ``/predict``, MLflow's ``/invocations``, health, readiness, version, metrics.

Built around one :class:`~.bundle.ServedModel` that was verified before the
app exists, so a process that answers ``/ready`` serves exactly the files
that were registered. Prediction routes are ``async`` on purpose: a one-row
prediction takes a fraction of a millisecond, less than a hop to a thread.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import DataValidationError
from . import invocations
from .bundle import ServedModel
from .observability import RequestObserver, ServingMetrics
from .predictor import Predictor
from .schema import (
    INVOCATIONS_BODY,
    MAX_BATCH_ROWS,
    InvocationsResponse,
    MlflowError,
    ModelInfo,
    PredictResponse,
    predict_request_model,
    record_model,
)

ROUTES = {"/predict", "/invocations", "/health", "/ready", "/version", "/metrics"}


def create_app(model: ServedModel, *, log_features: bool = False) -> Any:
    """The ASGI application serving ``model`` (FastAPI wrapped in the request observer).

    Args:
        model: the verified model to serve.
        log_features: put request rows in the access log (off: they may be personal data).
    """
    metrics = ServingMetrics(model)
    predictor = Predictor(model)
    record = record_model(model.features)
    request_model = predict_request_model(record)
    lenient = record_model(model.features, extra="ignore")  # MLflow ignores extra columns
    lenient_rows: TypeAdapter[list[BaseModel]] = TypeAdapter(list[lenient])  # type: ignore[valid-type]
    model_info = ModelInfo(
        version=model.semver, registry_version=model.registry_version, git_sha=model.git_sha
    ).model_dump()
    app = FastAPI(
        title=f"{model.adapter.strategy.kind} {model.semver}",
        version=model.semver,
        description="Predictions from one registered, verified model version.",
    )

    def note(request: Request, rows: list[BaseModel]) -> None:
        log: dict[str, Any] = {"rows": len(rows)}
        if log_features:
            log["features"] = [row.model_dump(by_alias=True) for row in rows]
        request.state.log = log

    @app.get("/health", summary="The process is alive")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready", summary="The model is loaded and its provenance verified")
    async def ready() -> dict[str, Any]:
        return {"status": "ready", "version": model.semver, "provenance": "verified"}

    @app.get("/version", summary="Model version, registry version, git SHA and MLflow run")
    async def version() -> dict[str, Any]:
        return model.describe()

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        summary=f"Predict one row or a batch of up to {MAX_BATCH_ROWS} rows",
    )
    async def predict(body: request_model, request: Request) -> Response:  # type: ignore[valid-type]
        rows: list[BaseModel] = body.records  # type: ignore[attr-defined]
        note(request, rows)
        try:
            predictions = predictor.predict(rows)
        except DataValidationError as exc:
            metrics.refused("unscorable")
            detail = [{"loc": ["body", "records"], "msg": str(exc), "type": "unscorable"}]
            return JSONResponse({"detail": detail}, status_code=422)
        metrics.predicted(len(rows))
        # Built directly: the values are already JSON types, so the response model
        # documents the answer without validating it a second time.
        answer = {
            "predictions": predictions,
            "model": model_info,
            "prediction_id": request.state.request_id,
        }
        return JSONResponse(answer)

    @app.post(
        "/invocations",
        summary="MLflow scoring-server protocol (drop-in)",
        response_model=InvocationsResponse,
        responses={400: {"model": MlflowError}, 415: {"model": MlflowError}},
        openapi_extra=INVOCATIONS_BODY,
    )
    async def invoke(request: Request) -> Response:
        try:
            raw = invocations.parse_rows(
                await request.body(), request.headers.get("content-type", "")
            )
            if not 0 < len(raw) <= MAX_BATCH_ROWS:
                raise DataValidationError(f"Send between 1 and {MAX_BATCH_ROWS} rows.")
            rows: list[BaseModel] = lenient_rows.validate_python(raw)
            note(request, rows)
            predictions = predictor.predict(rows)
        except invocations.UnsupportedMediaError as exc:
            metrics.refused("unsupported_media")
            return _mlflow_error(415, str(exc))
        except DataValidationError as exc:
            metrics.refused("bad_request")
            return _mlflow_error(400, str(exc))
        except ValidationError as exc:
            metrics.refused("invalid_rows")
            return _mlflow_error(400, _describe(exc))
        metrics.predicted(len(rows))
        return JSONResponse({"predictions": [{"prediction": value} for value in predictions]})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's shape, minus the offending values: they may be personal data, and
        # NaN or infinity cannot be written back as JSON at all.
        metrics.refused("invalid_request")
        detail = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    return RequestObserver(app, metrics=metrics, model=model, routes=ROUTES)


def _mlflow_error(status: int, message: str) -> Response:
    code = "BAD_REQUEST" if status == 400 else "UNSUPPORTED_MEDIA_TYPE"  # noqa: PLR2004
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def _describe(exc: ValidationError) -> str:
    """MLflow answers one message; name each failing row and column in it."""
    problems = [
        f"row {error['loc'][0]} column {'.'.join(map(str, error['loc'][1:])) or '?'}: "
        f"{error['msg']}"
        for error in exc.errors(include_url=False)[:5]
    ]
    return "Invalid input: " + "; ".join(problems)
