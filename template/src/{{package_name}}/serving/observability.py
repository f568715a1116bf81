"""Prometheus metrics and one structured log line per request.

Both are done in a plain ASGI middleware, around every route (422s and
404s included), so what is counted and logged is what clients saw. Labels
stay bounded: known routes by path, anything else as ``other``; predicted
classes by the model's own labels.

What the model answered is counted too, for canary analysis to compare two
versions on the same footing: a classifier's rows per predicted class
(``serving_predicted_class_total``), a regressor's predictions in a histogram
(``serving_predicted_value``) whose bucket edges are the deciles of the
training target recorded in the version's reference profile
(:attr:`~.bundle.ServedModel.target_edges`). The rule: the edges depend on
the training data alone (not on the model, nor on ``drift.bins``), so every
version trained on the same data buckets alike, and two versions' histograms
compare bucket by bucket. A version whose profile records no edges (trained
before they were recorded) falls back to :data:`FALLBACK_VALUE_BUCKETS`, the
same for every such version.
"""

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from .bundle import ServedModel

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ACCESS_LOGGER = "serving.access"
REQUEST_ID_HEADER = b"x-request-id"
_MAX_REQUEST_ID = 128
# Single-row requests take a fraction of a millisecond; batches and stalls take seconds.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: A regressor's predicted-value buckets when its profile records no target deciles:
#: symmetric powers of ten, identical for every such version.
FALLBACK_VALUE_BUCKETS = tuple(
    sorted({sign * 10.0**power for sign in (-1, 1) for power in range(-2, 7)} | {0.0})
)


def value_buckets(model: ServedModel) -> tuple[float, ...]:
    """The served-prediction histogram's edges: the training target's deciles (see above)."""
    return model.target_edges or FALLBACK_VALUE_BUCKETS


class ServingMetrics:
    """The serving process's metrics, in a registry of their own (one per app)."""

    def __init__(self, model: ServedModel) -> None:
        # `*_created` series double the scrape size and no dashboard here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.version = model.semver
        self.latency = Histogram(
            "serving_request_duration_seconds",
            "Time from request to response, by route and model version.",
            ["route", "method", "model_version"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "serving_requests",
            "Requests answered, by route, status code and model version.",
            ["route", "method", "status", "model_version"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "serving_predictions",
            "Rows predicted, by model version.",
            ["model_version"],
            registry=self.registry,
        )
        self.errors = Counter(
            "serving_prediction_errors",
            "Prediction requests refused or failed, by reason and model version.",
            ["reason", "model_version"],
            registry=self.registry,
        )
        self.classification = model.task == "classification"
        if self.classification:
            self.predicted_class = Counter(
                "serving_predicted_class",
                "Rows predicted, by model version and predicted class.",
                ["model_version", "class"],
                registry=self.registry,
            )
        else:
            self.predicted_value = Histogram(
                "serving_predicted_value",
                "Predicted values, by model version; buckets: the training target's deciles.",
                ["model_version"],
                buckets=value_buckets(model),
                registry=self.registry,
            )
        info = Gauge(
            "serving_model_info",
            "The model being served (always 1; the labels carry the facts).",
            ["model_version", "registry_version", "git_sha"],
            registry=self.registry,
        )
        info.labels(model.semver, model.registry_version, model.git_sha or "").set(1)

    def predicted(self, predictions: npt.NDArray[Any]) -> None:
        """Count rows that got a prediction, and what was predicted for them."""
        self.predictions.labels(self.version).inc(len(predictions))
        if self.classification:
            if len(predictions) == 1:  # the common request: no need to group
                self.predicted_class.labels(self.version, str(predictions[0])).inc()
                return
            labels, counts = np.unique(predictions.astype(str), return_counts=True)
            for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
                self.predicted_class.labels(self.version, label).inc(count)
            return
        histogram = self.predicted_value.labels(self.version)
        for value in predictions.tolist():
            histogram.observe(value)

    def refused(self, reason: str) -> None:
        """Count a prediction request that got no prediction."""
        self.errors.labels(reason, self.version).inc()


class RequestObserver:
    """ASGI middleware: request id, latency histogram, status counter, JSON access log."""

    def __init__(
        self, app: ASGIApp, *, metrics: ServingMetrics, model: ServedModel, routes: set[str]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self.facts = {"model_version": model.semver, "git_sha": model.git_sha}
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Observe one HTTP request; pass anything else (lifespan) straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope["path"] if scope["path"] in self.routes else "other"
            method = scope["method"]
            self.metrics.latency.labels(route, method, self.metrics.version).observe(elapsed)
            self.metrics.requests.labels(route, method, str(status), self.metrics.version).inc()
            line = {
                "event": "request",
                "request_id": request_id,
                "method": method,
                "path": route,
                "status": status,
                "latency_ms": round(elapsed * 1000, 3),
                **self.facts,
                **state.get("log", {}),
            }
            self.logger.info(json.dumps(line, default=str))


def _request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            text: str = value.decode("latin-1")
            if 0 < len(text) <= _MAX_REQUEST_ID and text.isprintable():
                return text
            break
    return uuid.uuid4().hex
