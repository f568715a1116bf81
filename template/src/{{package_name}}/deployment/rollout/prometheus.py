"""The Prometheus HTTP API, instant queries only: ``GET /api/v1/query``.

Standard library only: a rollout needs one kind of request, and the project
keeps HTTP clients out of its runtime dependencies. Every failure (no
``PROMETHEUS_URL``, a URL that is not http(s), a server that does not answer
or answers something else than Prometheus) is one :class:`RolloutError` line
naming the URL, so a rollout that cannot measure stops before it changes
anything.
"""

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from . import RolloutError

#: Seconds a query may take before the rollout gives up on Prometheus.
QUERY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: dict[str, str]
    value: float


def check_url(url: str | None) -> str:
    """The Prometheus base URL, without a trailing slash.

    Raises:
        RolloutError: unset, or not an http(s) URL with a host.
    """
    if not url:
        raise RolloutError(
            "PROMETHEUS_URL is not set: point it at the Prometheus that scrapes the model "
            "servers (e.g. PROMETHEUS_URL=http://prometheus.monitoring:9090) and run again."
        )
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        raise RolloutError(
            f"PROMETHEUS_URL {url!r} is not a Prometheus address: use http(s)://host[:port]"
            "[/path], without a query string."
        )
    return url.rstrip("/")


class Prometheus:
    """Instant queries against one Prometheus server."""

    def __init__(self, url: str | None, *, timeout: float = QUERY_TIMEOUT) -> None:
        self.url = check_url(url)
        self.timeout = timeout

    def query(self, promql: str) -> list[Sample]:
        """The instant vector ``promql`` evaluates to now (a scalar is one unlabelled sample).

        Raises:
            RolloutError: Prometheus did not answer, refused the query or answered garbage.
        """
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout) as response:  # noqa: S310  # nosec B310 - http(s) only, checked in check_url
                body: Any = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = _error_body(exc)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RolloutError(
                f"Prometheus at {self.url} did not answer ({reason}); check PROMETHEUS_URL "
                "and that Prometheus is up."
            ) from None
        return _samples(body, self.url, promql)


def _error_body(exc: urllib.error.HTTPError) -> Any:
    """Prometheus explains a refused query in a JSON body; anything else is not Prometheus."""
    try:
        return json.loads(exc.read())
    except ValueError:
        return {"status": "error", "error": f"HTTP {exc.code}"}


def _samples(body: Any, url: str, promql: str) -> list[Sample]:
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "no status") if isinstance(body, dict) else "not JSON"
        raise RolloutError(f"Prometheus at {url} refused {promql!r}: {error}.")
    data: Any = body.get("data") or {}
    kind: Any = data.get("resultType")
    result: Any = data.get("result")
    try:
        if kind == "scalar":
            return [Sample({}, float(result[1]))]
        if kind == "vector":
            return [
                Sample(dict(item.get("metric", {})), float(item["value"][1])) for item in result
            ]
    except (TypeError, KeyError, IndexError, ValueError):
        pass
    raise RolloutError(f"Prometheus at {url} answered {promql!r} with no instant vector.")


def total(samples: list[Sample]) -> float | None:
    """The value of a one-series answer (``sum(...)``), or ``None`` if empty or not a number."""
    values = [sample.value for sample in samples if not math.isnan(sample.value)]
    return values[0] if len(values) == 1 else None
