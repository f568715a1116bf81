"""The HTTP API: ``/predict``, MLflow's ``/invocations`` and ``/ping``, health, metrics.

Built around one :class:`~.bundle.ServedModel` that was verified before the
app exists, so a process that answers ``/ready`` serves exactly the files
that were registered. Prediction routes are ``async`` on purpose: a one-row
prediction takes a fraction of a millisecond, less than a hop to a thread;
only large ``/invocations`` bodies are scored in a worker thread, so the
event loop keeps answering probes meanwhile.

With a shadow (:mod:`.shadow`), each answered request hands the rows it
scored to the shadow's queue after the primary has predicted them; the
answer never waits for the shadow. With a tracer provider (:mod:`.tracing`),
each prediction request gets ``validation`` and ``inference`` child spans.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..errors import DataValidationError
from . import invocations
from .bundle import ServedModel
from .observability import RequestObserver, ServingMetrics
from .predictor import Predictor
from .schema import (
    INVOCATIONS_BODY,
    InvocationsResponse,
    MlflowError,
    ModelInfo,
    PredictResponse,
    predict_request_model,
    record_model,
)
from .shadow import ShadowMetrics, ShadowScorer, ShadowSettings
from .spans import NO_SPANS, Spans

ROUTES = {
    "/predict",
    "/invocations",
    "/ping",
    "/health",
    "/ready",
    "/version",
    "/model",
    "/metrics",
}
#: ``/invocations`` bodies above this size are scored in a worker thread.
THREAD_BODY_BYTES = 1 << 20
#: One converted batch (kept only when a shadow scores it too) and its predictions.
Scored = tuple[invocations.Batch | None, npt.NDArray[Any]]


def create_app(
    model: ServedModel,
    *,
    log_features: bool = False,
    max_batch_rows: int | None = None,
    shadow: ServedModel | None = None,
    shadow_settings: ShadowSettings | None = None,
    tracer_provider: Any = None,
) -> Any:
    """The ASGI application serving ``model`` (FastAPI wrapped in the request observer).

    Args:
        model: the verified model to serve.
        log_features: put request rows in the access log (off: they may be personal data).
        max_batch_rows: the most rows one request may carry (None: no limit, as MLflow).
        shadow: a verified model that scores the same rows off the request path (its
            input schema checked against ``model``'s by the caller, see
            :func:`.shadow.check_compatible`).
        shadow_settings: the shadow's queue size and log sampling (default: defaults).
        tracer_provider: an OpenTelemetry ``TracerProvider`` (None: no tracing, and no
            import of the SDK or the instrumentation).
    """
    metrics = ServingMetrics(model)
    predictor = Predictor(model)
    spans: Spans = NO_SPANS
    if tracer_provider is not None:
        from .tracing import OtelSpans  # noqa: PLC0415 - opentelemetry only with tracing on

        spans = OtelSpans(tracer_provider, model.semver)
    scorer = None
    if shadow is not None:
        settings = shadow_settings or ShadowSettings(log_features=log_features)
        shadow_metrics = ShadowMetrics(metrics.registry, model, shadow)
        scorer = ShadowScorer(model, shadow, shadow_metrics, settings, spans=spans)
    record = record_model(model.features)
    request_model = predict_request_model(record, max_batch_rows)
    model_info = ModelInfo(
        version=model.semver, registry_version=model.registry_version, git_sha=model.git_sha
    ).model_dump()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # Shutting down: what the shadow has queued is scored, spans are flushed.
        if scorer is not None:
            scorer.close()
        if tracer_provider is not None:
            tracer_provider.shutdown()

    app = FastAPI(
        title=f"{model.adapter.strategy.kind} {model.semver}",
        version=model.semver,
        description="Predictions from one registered, verified model version.",
        lifespan=lifespan,
    )
    app.state.shadow = scorer
    if tracer_provider is not None:
        from .tracing import instrument  # noqa: PLC0415

        instrument(app, tracer_provider, model.semver)

    @app.get("/health", summary="The process is alive (and the model loaded)")
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready", summary="The model is loaded and its provenance verified")
    async def ready() -> dict[str, Any]:
        return {"status": "ready", "version": model.semver, "provenance": "verified"}

    @app.get("/model", summary="Model version, registry version, git SHA and MLflow run")
    async def describe() -> dict[str, Any]:
        return model.describe()

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/predict",
        response_model=PredictResponse,
        summary="Predict one row or a batch"
        + (f" of up to {max_batch_rows} rows" if max_batch_rows else ""),
    )
    async def predict(body: request_model, request: Request) -> Response:  # type: ignore[valid-type]
        rows: list[BaseModel] = body.records  # type: ignore[attr-defined]
        logged = [row.model_dump(by_alias=True) for row in rows] if log_features else None
        _note(request, len(rows), logged)
        try:
            with spans.span("validation"):
                batch = predictor.batch(rows)
            with spans.span("inference"):
                predictions = predictor.predict_array(batch)
        except DataValidationError as exc:
            metrics.refused("unscorable")
            detail = [{"loc": ["body", "records"], "msg": str(exc), "type": "unscorable"}]
            return JSONResponse({"detail": detail}, status_code=422)
        metrics.predicted(predictions)
        if scorer is not None:
            scorer.submit(batch, predictions, request.state.request_id)
        # Built directly: the values are already JSON types, so the response model
        # documents the answer without validating it a second time.
        answer = {
            "predictions": predictions.tolist(),
            "model": model_info,
            "prediction_id": request.state.request_id,
        }
        return JSONResponse(answer)

    _add_mlflow_routes(
        app,
        model,
        predictor,
        metrics,
        log_features=log_features,
        max_batch_rows=max_batch_rows,
        scorer=scorer,
        spans=spans,
    )

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


def _add_mlflow_routes(
    app: FastAPI,
    model: ServedModel,
    predictor: Predictor,
    metrics: ServingMetrics,
    *,
    log_features: bool,
    max_batch_rows: int | None,
    scorer: ShadowScorer | None,
    spans: Spans,
) -> None:
    """``/invocations``, ``/ping`` and ``/version`` as ``mlflow models serve`` answers them."""
    reader = invocations.Reader(model.features, numeric=predictor.numeric, max_rows=max_batch_rows)
    names = [feature.name for feature in model.features]

    def score(batches: Iterator[invocations.Batch]) -> tuple[list[Scored], list[Any]]:
        """Convert and predict batch by batch; the rows too when they are logged."""
        scored: list[Scored] = []
        logged: list[Any] = []
        # The span covers reading the body and converting the first chunk: the whole
        # request, but for batches above CHUNK_ROWS rows.
        with spans.span("validation"):
            batch = next(batches, None)
        while batch is not None:
            if log_features:
                logged.extend(invocations.records(batch, names))
            with spans.span("inference"):
                predicted = predictor.predict_array(batch)
            # The batch is kept only for the shadow, which scores it after the answer.
            scored.append((batch if scorer is not None else None, predicted))
            batch = next(batches, None)
        return scored, logged

    @app.get("/ping", include_in_schema=False)
    async def ping() -> Response:
        # MLflow's answer byte for byte: the model is loaded, or this app would not exist.
        return Response("\n", media_type="application/json")

    @app.get("/version", include_in_schema=False)
    async def version() -> Response:
        # As `mlflow models serve`: the bare MLflow version (here the one that saved the
        # model: the image has no MLflow), labelled application/json as MLflow labels it.
        return Response(model.mlflow_version, media_type="application/json")

    @app.post(
        "/invocations",
        summary="MLflow scoring-server protocol (drop-in)",
        response_model=InvocationsResponse,
        responses={
            400: {"model": MlflowError},
            415: {
                "description": "Unsupported content type (plain text, as MLflow answers)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
        },
        openapi_extra=INVOCATIONS_BODY,
    )
    async def invoke(request: Request) -> Response:
        # Read without Starlette's cached copy; the reader owns the bytes from here on.
        body = b"".join([chunk async for chunk in request.stream()])
        size = len(body)
        try:
            batches = reader.read(body, request.headers.get("content-type"))
            del body
            if size > THREAD_BODY_BYTES:
                scored, logged = await run_in_threadpool(score, batches)
            else:
                scored, logged = score(batches)
        except invocations.InvocationError as exc:
            metrics.refused(exc.reason)
            if exc.status == 415:  # noqa: PLR2004
                return PlainTextResponse(str(exc), status_code=415)
            return JSONResponse(invocations.error_body(exc), status_code=exc.status)
        except DataValidationError as exc:
            metrics.refused("unscorable")
            error = invocations.BadRequestError(str(exc))
            return JSONResponse(invocations.error_body(error), status_code=400)
        predictions = scored[0][1] if len(scored) == 1 else np.concatenate([p for _, p in scored])
        _note(request, len(predictions), logged if log_features else None)
        metrics.predicted(predictions)
        if scorer is not None:
            for batch, predicted in scored:
                scorer.submit(batch, predicted, request.state.request_id)  # type: ignore[arg-type]
        return JSONResponse(
            {"predictions": [{"prediction": value} for value in predictions.tolist()]}
        )


def _note(request: Request, rows: int, features: list[Any] | None) -> None:
    """What the access log line adds: the row count, and the rows when they are logged."""
    log: dict[str, Any] = {"rows": rows}
    if features is not None:
        log["features"] = features
    request.state.log = log
