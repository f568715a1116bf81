"""One step's measurements, queried from Prometheus over the step's window.

The queries read the serving app's own metrics, labelled by
``model_version``, so they work wherever Prometheus scrapes the model
servers: two ``just serve`` processes on a laptop or the two revisions of a
KServe InferenceService. Only prediction routes count (``/predict`` and
``/invocations``); health checks and scrapes would dilute every ratio. The
window is the time since the step's traffic was set, so each step is judged
on its own traffic only.
"""

import math
from collections.abc import Callable

from ...config import Task
from .prometheus import Prometheus, Sample, total
from .verdicts import Distribution, DistributionKind, Measurements

#: Runs one query and records it with its answer.
Ask = Callable[[str], list[Sample]]
PREDICTION_ROUTES = "/predict|/invocations"
QUANTILE = 0.95
#: The prediction distribution each task's servers export (the serving metric contract).
DISTRIBUTIONS: dict[Task, tuple[str, str, DistributionKind]] = {
    "classification": ("serving_predicted_class_total", "class", "classes"),
    "regression": ("serving_predicted_value_bucket", "le", "cumulative"),
}


class PrometheusSource:
    """Measures a canary against the stable version in one Prometheus."""

    def __init__(
        self, prometheus: Prometheus, *, task: Task, selector: str, stable: str, canary: str
    ) -> None:
        self.prometheus = prometheus
        self.task = task
        self.selector = selector
        self.stable = stable
        self.canary = canary

    def check(self) -> None:
        """Ask Prometheus for the time: it answers, and answers as Prometheus.

        Raises:
            RolloutError: it does not.
        """
        self.prometheus.query("time()")

    def measure(self, window_seconds: float) -> Measurements:
        """Every number one verdict needs, over the last ``window_seconds``.

        Raises:
            RolloutError: Prometheus failed or refused a query.
        """
        window = f"{max(math.ceil(window_seconds), 1)}s"
        queries: list[tuple[str, str]] = []

        def ask(promql: str) -> list[Sample]:
            samples = self.prometheus.query(promql)
            shown = ", ".join(
                f"{','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))}={s.value:.6g}"
                for s in samples
            )
            queries.append((promql, shown or "empty"))
            return samples

        requests = self._series("serving_requests_total", self.canary, routes=True)
        errors = self._series("serving_requests_total", self.canary, 'status=~"5.."', routes=True)
        canary_requests = total(ask(f"sum(increase({requests}[{window}]))")) or 0.0
        canary_errors = total(ask(f"sum(increase({errors}[{window}]))")) or 0.0
        canary_p95 = total(ask(self._p95(self.canary, window)))
        stable_p95 = total(ask(self._p95(self.stable, window)))
        predictions = self._distribution(ask, window)
        return Measurements(
            window_seconds=window_seconds,
            canary_requests=canary_requests,
            canary_errors=canary_errors,
            canary_p95=canary_p95,
            stable_p95=stable_p95,
            predictions=predictions,
            queries=tuple(queries),
        )

    def _series(self, metric: str, version: str, *matchers: str, routes: bool = False) -> str:
        """``metric{...}``: one version's series, under the deployment's selector."""
        labels = [self.selector] if self.selector else []
        labels.append(f'model_version="{version}"')
        if routes:
            labels.append(f'route=~"{PREDICTION_ROUTES}"')
        labels.extend(matchers)
        return metric + "{" + ",".join(labels) + "}"

    def _p95(self, version: str, window: str) -> str:
        buckets = self._series("serving_request_duration_seconds_bucket", version, routes=True)
        return f"histogram_quantile({QUANTILE}, sum by (le) (rate({buckets}[{window}])))"

    def _distribution(self, ask: Ask, window: str) -> Distribution | None:
        metric, label, kind = DISTRIBUTIONS[self.task]

        def counts(version: str) -> dict[str, float]:
            promql = f"sum by ({label}) (increase({self._series(metric, version)}[{window}]))"
            return {
                sample.labels[label]: sample.value
                for sample in ask(promql)
                if label in sample.labels and _usable(sample, label, kind)
            }

        stable, canary = counts(self.stable), counts(self.canary)
        return Distribution(kind, stable, canary) if stable and canary else None


def _usable(sample: Sample, label: str, kind: DistributionKind) -> bool:
    """A finite count, and for a histogram an ``le`` edge that is a number."""
    if math.isnan(sample.value):
        return False
    if kind == "cumulative":
        try:
            float(sample.labels[label])
        except ValueError:
            return False
    return True
