"""OpenTelemetry traces of the serving app, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Imported only then (:mod:`.spans` stands in otherwise), so a server without
an endpoint imports no SDK, exporter or instrumentation module and exports
nothing (FastAPI depends on the no-op ``opentelemetry-api`` by itself). The
provider is passed to the instrumentation, never made global: FastAPI's own
telemetry, which follows the global provider, stays a no-op, so each request
has one server span. The
request span comes from ``opentelemetry-instrumentation-fastapi`` (probes and
``/metrics`` excluded), carrying ``model.version``; the app adds
``validation`` (``/predict``: the validated rows made the model's batch;
``/invocations``: the body read and its first chunk converted) and
``inference`` (one per chunk) child spans; the shadow's scoring runs on
its own thread, after the answer, so it is a span of its own
(``shadow.inference``) linked to every request whose rows it scored. Spans
leave through the OTLP/HTTP exporter, configured by the standard
``OTEL_EXPORTER_OTLP_*`` and ``OTEL_SERVICE_NAME`` variables.
"""

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

#: Routes whose requests make no trace: probes and scrapes would drown the predictions.
UNTRACED = "/health,/ready,/ping,/metrics,/version,/model"
DEFAULT_SERVICE_NAME = "model-server"


def provider_from_env(version: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """A tracer provider exporting in batches to the OTLP endpoint of the environment.

    ``exporter`` replaces the OTLP/HTTP exporter (tests pass an in-memory one).
    """
    attributes: dict[str, Any] = {"service.version": version}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument(app: FastAPI, provider: TracerProvider, version: str) -> None:
    """Give ``app``'s requests server spans, each carrying ``model.version``."""

    def tag(span: Any, _: dict[str, Any]) -> None:
        if span is not None and span.is_recording():
            span.set_attribute("model.version", version)

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, server_request_hook=tag, excluded_urls=UNTRACED
    )


class OtelSpans:
    """:class:`.spans.Spans` with OpenTelemetry: spans from ``provider``'s tracer."""

    def __init__(self, provider: TracerProvider, version: str) -> None:
        self.tracer = provider.get_tracer(__name__)
        self.version = version

    def span(self, name: str) -> AbstractContextManager[Any]:
        """A child of the current span (the request's), carrying ``model.version``."""
        return self.tracer.start_as_current_span(name, attributes={"model.version": self.version})

    def link(self) -> Any:
        """The current span's context, when there is one."""
        context = trace.get_current_span().get_span_context()
        return context if context.is_valid else None

    def shadow_span(
        self, version: str, links: Sequence[Any], rows: int
    ) -> AbstractContextManager[Any]:
        """``shadow.inference``: a root span linked to the requests whose rows it scores."""
        return self.tracer.start_as_current_span(
            "shadow.inference",
            context=trace.set_span_in_context(trace.INVALID_SPAN),
            links=[trace.Link(context) for context in links if context is not None],
            attributes={
                "model.version": version,
                "shadow.primary_version": self.version,
                "shadow.rows": rows,
            },
        )
