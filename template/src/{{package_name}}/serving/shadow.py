"""Shadow scoring: a second version scores the primary's rows, off the request path.

With ``SHADOW_MODEL`` set, every request is answered by the primary alone;
the rows it scored, and what it answered, are then handed to a bounded queue
(:data:`DEFAULT_QUEUE_SIZE` batches, ``SHADOW_QUEUE_SIZE``) that one daemon
thread drains. When the queue is full the rows are dropped and counted, never
waited for, so a slow or failing shadow costs an answer nothing: not its
value, not its status, not its latency beyond a ``put_nowait``. The batch
handed over is the very object the primary scored (read-only from then on),
so the request path copies nothing.

The worker takes whatever is queued (up to :data:`MAX_DRAIN_ROWS` rows) and
scores it in one call, then pauses :data:`PAUSE_SECONDS`, so under load each
call scores many requests' rows: the shadow's per-call overhead, and the
moments it holds the interpreter lock the event loop needs, are shared. It counts
agreement with the primary per row: a classifier's rows agreeing or not, a
regressor's absolute differences in a histogram. A sample of disagreements
(``SHADOW_LOG_SAMPLE_RATE``, default :data:`DEFAULT_LOG_SAMPLE_RATE`) is
logged as JSON lines beside the access log, with the rows' features only
when ``SERVING_LOG_FEATURES=true``.
"""

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Histogram

from ..errors import ConfigError, DataValidationError
from .bundle import ServedModel
from .observability import ACCESS_LOGGER, value_buckets
from .predictor import Predictor
from .spans import NO_SPANS, Spans

DEFAULT_QUEUE_SIZE = 256
DEFAULT_LOG_SAMPLE_RATE = 0.01
#: The most rows the worker scores in one call (the primary's chunk size).
MAX_DRAIN_ROWS = 4096
#: The worker's pause after each call, for requests to gather in the queue meanwhile:
#: at 2 ms the shadow took the interpreter lock often enough to add 39 % to the
#: primary's p95 at concurrency 8 (two cores); at 20 ms, 1-13 % over two runs.
PAUSE_SECONDS = 0.02
#: Regression rows whose predictions differ by more than this (relative) disagree.
REGRESSION_TOLERANCE = 1e-6
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_STOP = object()

Batch = npt.NDArray[np.float64] | dict[str, Any] | pd.DataFrame


@dataclass(frozen=True)
class ShadowSettings:
    """``SHADOW_QUEUE_SIZE`` and ``SHADOW_LOG_SAMPLE_RATE``, checked."""

    queue_size: int = DEFAULT_QUEUE_SIZE
    log_sample_rate: float = DEFAULT_LOG_SAMPLE_RATE
    log_features: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str], *, log_features: bool) -> "ShadowSettings":
        """The settings from ``environ``; unset or empty keeps a default.

        Raises:
            ConfigError: a size that is not a whole number from 1 up, or a rate
                that is not a number from 0 to 1.
        """
        size = environ.get("SHADOW_QUEUE_SIZE") or str(DEFAULT_QUEUE_SIZE)
        if not (size.isascii() and size.strip().isdigit()) or int(size) < 1:
            raise ConfigError(
                "SHADOW_QUEUE_SIZE must be a whole number of batches from 1 up (default "
                f"{DEFAULT_QUEUE_SIZE}); got {size!r}."
            )
        rate_text = environ.get("SHADOW_LOG_SAMPLE_RATE") or str(DEFAULT_LOG_SAMPLE_RATE)
        try:
            rate = float(rate_text)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(
                "SHADOW_LOG_SAMPLE_RATE must be a number from 0 (log no disagreement) to 1 "
                f"(log every one; default {DEFAULT_LOG_SAMPLE_RATE}); got {rate_text!r}."
            )
        return cls(int(size), rate, log_features)


def check_compatible(primary: ServedModel, shadow: ServedModel) -> None:
    """Refuse a shadow that cannot score the primary's rows as they are.

    Raises:
        ConfigError: another task, or another input schema (columns, types, order).
    """
    if shadow.task != primary.task:
        raise ConfigError(
            f"The shadow model {shadow.semver} is a {shadow.task} model; the primary "
            f"{primary.semver} is a {primary.task} model: a shadow must predict the same thing."
        )
    if shadow.features != primary.features:
        raise ConfigError(
            f"The shadow model {shadow.semver} takes other input columns than the primary "
            f"{primary.semver} ({_columns(shadow)} against {_columns(primary)}): a shadow "
            "must take the same input schema."
        )


class ShadowMetrics:
    """The shadow's series, labelled with both versions, in the app's registry."""

    def __init__(self, registry: CollectorRegistry, primary: ServedModel, shadow: ServedModel):
        labels = ["primary_version", "shadow_version"]
        self.versions = (primary.semver, shadow.semver)
        self.latency = Histogram(
            "serving_shadow_duration_seconds",
            "Time the shadow took to score one drained batch of queued rows.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        ).labels(*self.versions)
        self.rows = Counter(
            "serving_shadow_rows", "Rows the shadow scored.", labels, registry=registry
        ).labels(*self.versions)
        self.errors = Counter(
            "serving_shadow_errors",
            "Rows the shadow failed to score, by reason (unscorable, exception).",
            [*labels, "reason"],
            registry=registry,
        )
        self.dropped = Counter(
            "serving_shadow_dropped_rows",
            "Rows not shadow-scored because the shadow queue was full.",
            labels,
            registry=registry,
        ).labels(*self.versions)
        self.classification = primary.task == "classification"
        if self.classification:
            self.agreement = Counter(
                "serving_shadow_agreement",
                "Rows on which the shadow agreed (or not) with the primary's answer.",
                [*labels, "result"],
                registry=registry,
            )
        else:
            edges = value_buckets(primary)
            self.difference = Histogram(
                "serving_shadow_abs_difference",
                "Absolute difference between the shadow's and the primary's predictions.",
                labels,
                buckets=_difference_buckets(edges),
                registry=registry,
            ).labels(*self.versions)

    def error(self, reason: str, rows: int) -> None:
        """Count rows the shadow could not score."""
        self.errors.labels(*self.versions, reason).inc(rows)

    def compare(self, primary: npt.NDArray[Any], shadow: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Count agreement row by row; returns where the two disagree."""
        self.rows.inc(len(shadow))
        if self.classification:
            disagree = primary.astype(str) != shadow.astype(str)
            different = int(disagree.sum())
            self.agreement.labels(*self.versions, "agree").inc(len(shadow) - different)
            self.agreement.labels(*self.versions, "disagree").inc(different)
            return np.asarray(disagree)
        difference = np.abs(shadow.astype(np.float64) - primary.astype(np.float64))
        for value in difference.tolist():
            self.difference.observe(value)
        scale = np.maximum(np.abs(primary.astype(np.float64)), 1.0)
        return np.asarray(difference > REGRESSION_TOLERANCE * scale)


@dataclass(frozen=True)
class _Work:
    batch: Batch
    primary: npt.NDArray[Any]
    request_id: str
    #: The request's span context (tracing on), for the shadow span's link.
    link: Any


class ShadowScorer:
    """A bounded queue of scored batches and the one thread that shadow-scores them."""

    def __init__(
        self,
        primary: ServedModel,
        shadow: ServedModel,
        metrics: ShadowMetrics,
        settings: ShadowSettings,
        *,
        spans: Spans = NO_SPANS,
    ) -> None:
        self.model = shadow
        self.predictor = Predictor(shadow)
        self.metrics = metrics
        self.settings = settings
        self.spans = spans
        self.names = [feature.name for feature in primary.features]
        self.work: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_size)
        self.logger = logging.getLogger(ACCESS_LOGGER)
        # Sampling log lines, not security: a seeded generator per process is enough.
        self.sampler = random.Random()  # noqa: S311  # nosec B311
        self.thread = threading.Thread(target=self._run, name="shadow-scorer", daemon=True)
        self.thread.start()

    def submit(self, batch: Batch, primary: npt.NDArray[Any], request_id: str) -> None:
        """Queue rows the primary scored; drop (and count) them when the queue is full."""
        try:
            self.work.put_nowait(_Work(batch, primary, request_id, self.spans.link()))
        except queue.Full:
            self.metrics.dropped.inc(len(primary))

    def close(self, timeout: float = 5.0) -> None:
        """Score what is queued (for up to ``timeout`` seconds), then stop the thread."""
        try:
            self.work.put(_STOP, timeout=timeout)
        except queue.Full:
            return  # the daemon thread ends with the process
        self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self.work.get()
            if first is _STOP:
                return
            drained: list[_Work] = [first]
            rows = len(first.primary)
            stop = False
            while rows < MAX_DRAIN_ROWS:
                try:
                    item = self.work.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                drained.append(item)
                rows += len(item.primary)
            self._score(drained)
            if stop:
                return
            time.sleep(PAUSE_SECONDS)

    def _score(self, drained: Sequence[_Work]) -> None:
        """Score drained work in one call; nothing raised here may end the thread."""
        rows = sum(len(work.primary) for work in drained)
        started = time.perf_counter()
        with self.spans.shadow_span(self.model.semver, [work.link for work in drained], rows):
            try:
                predictions = self.predictor.predict_array(_join([w.batch for w in drained]))
            except DataValidationError:
                self.metrics.error("unscorable", rows)
                return
            except Exception:
                self.metrics.error("exception", rows)
                return
            finally:
                self.metrics.latency.observe(time.perf_counter() - started)
        primary = np.concatenate([work.primary for work in drained])
        if predictions.shape != primary.shape:
            self.metrics.error("exception", rows)
            return
        disagree = self.metrics.compare(primary, predictions)
        if self.settings.log_sample_rate > 0 and disagree.any():
            self._log_disagreements(drained, primary, predictions, disagree)

    def _log_disagreements(
        self,
        drained: Sequence[_Work],
        primary: npt.NDArray[Any],
        shadow: npt.NDArray[Any],
        disagree: npt.NDArray[Any],
    ) -> None:
        owners = [(work, row) for work in drained for row in range(len(work.primary))]
        for index in np.flatnonzero(disagree).tolist():
            if self.sampler.random() >= self.settings.log_sample_rate:
                continue
            work, row = owners[index]
            line: dict[str, Any] = {
                "event": "shadow_disagreement",
                "request_id": work.request_id,
                "row": row,
                "primary_version": self.metrics.versions[0],
                "shadow_version": self.metrics.versions[1],
                "primary": primary[index].item(),
                "shadow": shadow[index].item(),
            }
            if self.settings.log_features:
                line["features"] = _row(work.batch, row, self.names)
            self.logger.info(json.dumps(line, default=str))


def _join(batches: Sequence[Batch]) -> Batch:
    """One batch of several (a copy only when there are several).

    Numeric models get float matrices from every route; the others get a
    DataFrame (``/predict``) or columns (``/invocations``), joined as one frame.
    """
    if len(batches) == 1:
        return batches[0]
    if all(isinstance(batch, np.ndarray) for batch in batches):
        return np.concatenate(batches)  # type: ignore[arg-type]
    frames = [
        batch if isinstance(batch, pd.DataFrame) else pd.DataFrame(batch) for batch in batches
    ]
    return pd.concat(frames, ignore_index=True)


def _row(batch: Batch, row: int, names: Sequence[str]) -> dict[str, Any]:
    if isinstance(batch, np.ndarray):
        return dict(zip(names, batch[row].tolist(), strict=True))
    if isinstance(batch, pd.DataFrame):
        return {name: _plain(batch[name].iloc[row]) for name in names}
    return {name: _plain(np.asarray(batch[name])[row]) for name in names}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _difference_buckets(edges: Sequence[float]) -> tuple[float, ...]:
    """Absolute-difference buckets scaled to the target's spread (its decile range)."""
    spread = (max(edges) - min(edges)) if len(edges) > 1 else 1.0
    spread = spread if spread > 0 else 1.0
    fractions = (0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    return tuple(spread * fraction for fraction in fractions)


def _columns(model: ServedModel) -> str:
    return ", ".join(f"{feature.name} ({feature.type})" for feature in model.features)
