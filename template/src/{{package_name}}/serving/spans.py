"""Where the app marks spans, without importing OpenTelemetry when tracing is off.

The app and the shadow scorer call a :class:`Spans`; with no
``OTEL_EXPORTER_OTLP_ENDPOINT`` it is :data:`NO_SPANS`, whose every span is
a ``nullcontext``, so neither the OpenTelemetry SDK nor an exporter is
imported, and nothing is exported (FastAPI itself imports the API, whose
default provider records nothing). :mod:`.tracing` implements the real one.
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class Spans(Protocol):
    """The spans the app opens: its request's steps, and the shadow's scoring."""

    def span(self, name: str) -> AbstractContextManager[Any]:
        """A child span of the current one (the request's), named ``name``."""
        ...

    def link(self) -> Any:
        """The current span's context, for a later span to link to (None: no tracing)."""
        ...

    def shadow_span(
        self, version: str, links: Sequence[Any], rows: int
    ) -> AbstractContextManager[Any]:
        """A span of its own for the shadow's scoring, linked to the requests it scores."""
        ...


class NoSpans:
    """Tracing off: every span is a ``nullcontext``."""

    def span(self, name: str) -> AbstractContextManager[Any]:  # noqa: D102
        return nullcontext()

    def link(self) -> Any:  # noqa: D102
        return None

    def shadow_span(  # noqa: D102
        self,
        version: str,
        links: Sequence[Any],
        rows: int,
    ) -> AbstractContextManager[Any]:
        return nullcontext()


NO_SPANS = NoSpans()
