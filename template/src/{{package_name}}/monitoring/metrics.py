"""Prometheus metrics of the batch jobs: the drift check, the live score and retraining.

A batch job ends before any Prometheus could scrape it, so each export is
written as a textfile-collector file under ``build/monitoring/`` (atomically:
node_exporter's ``--collector.textfile.directory`` never reads half a file)
and, when ``PROMETHEUS_PUSHGATEWAY_URL`` is set, pushed to that Pushgateway
(one group per job and model, replaced by every push). The local file is
written first, so an unreachable gateway loses nothing: the push fails with
one line naming the URL.

Labels follow the serving metrics' rule of bounded cardinality: ``model`` and
``version`` everywhere, ``feature`` on per-feature drift scores (the model's
input columns), ``metric`` on scores and ``trigger`` on retrainings.
"""

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..config import HIGHER_IS_BETTER
from ..errors import ConfigError, ProjectError
from ..registry.records import VersionRecord
from ..registry.service import ModelRegistry
from .drift import DriftReport
from .retrain import TAG_PREFIX

#: Where the textfile-collector files go, relative to the project root.
MONITORING_DIR = Path("build") / "monitoring"
#: The environment variable naming the Pushgateway (unset: files only).
PUSHGATEWAY_ENV = "PROMETHEUS_PUSHGATEWAY_URL"
#: Seconds a push may take: a dead gateway fails the job quickly, not after minutes.
PUSH_TIMEOUT_SECONDS = 5.0
#: Version tags the retraining job writes on every version it produced.
RETRAIN_TRIGGER_TAG = f"{TAG_PREFIX}trigger"
RETRAIN_AT_TAG = f"{TAG_PREFIX}at"


class PushgatewayError(ProjectError):
    """The Pushgateway refused the metrics or did not answer (the local file is written)."""


@dataclass(frozen=True)
class LiveScore:
    """A version's score on a labelled batch, beside its held-out score at registration."""

    metric: str
    live: float
    heldout: float | None

    @property
    def drop_ratio(self) -> float | None:
        """Relative loss against the held-out score (positive = worse), like ``max_regression``."""
        if self.heldout is None or self.metric not in HIGHER_IS_BETTER:
            return None
        loss = (
            self.heldout - self.live if HIGHER_IS_BETTER[self.metric] else self.live - self.heldout
        )
        return loss / abs(self.heldout) if self.heldout else loss


def export_drift_metrics(
    report: DriftReport,
    *,
    model: str,
    version: str,
    root: Path,
    now: datetime | None = None,
) -> Path:
    """Write (and push) one drift check's gauges: scores per feature, verdict, thresholds.

    Raises:
        PushgatewayError: ``PROMETHEUS_PUSHGATEWAY_URL`` is set and the push failed.
        ConfigError: ``PROMETHEUS_PUSHGATEWAY_URL`` is not an http(s) URL.
    """
    registry = CollectorRegistry()
    key = {"model": model, "version": version}
    psi = Gauge(
        "model_drift_psi",
        "Population stability index of a feature, batch against training.",
        ["model", "version", "feature"],
        registry=registry,
    )
    ks = Gauge(
        "model_drift_ks_statistic",
        "Kolmogorov-Smirnov statistic D of a numeric feature, batch against training.",
        ["model", "version", "feature"],
        registry=registry,
    )
    for feature in report.features:
        psi.labels(model, version, feature.name).set(feature.psi)
        if feature.ks_statistic is not None:
            ks.labels(model, version, feature.name).set(feature.ks_statistic)
    _gauge(
        registry, "model_drift_detected", "1 when the check's verdict is drift, else 0.", key
    ).set(float(report.verdict == "drift"))
    _gauge(registry, "model_drift_batch_rows", "Rows in the checked batch.", key).set(report.rows)
    _gauge(
        registry,
        "model_drift_check_timestamp_seconds",
        "When the drift check ran (Unix time).",
        key,
    ).set((now or datetime.now(tz=UTC)).timestamp())
    thresholds = {"model": model}
    _gauge(
        registry,
        "model_drift_psi_threshold",
        "PSI above which a feature drifts (drift.psi_drift in params.yaml).",
        thresholds,
    ).set(report.config.psi_drift)
    _gauge(
        registry,
        "model_drift_ks_threshold",
        "KS statistic above which a numeric feature drifts (drift.ks_threshold).",
        thresholds,
    ).set(report.config.ks_threshold)
    return _publish(registry, root / MONITORING_DIR / "drift.prom", job="drift_check", model=model)


def export_live_score(score: LiveScore, *, model: str, version: str, root: Path) -> Path:
    """Write (and push) a version's score on a labelled batch beside its held-out score.

    Raises:
        PushgatewayError: ``PROMETHEUS_PUSHGATEWAY_URL`` is set and the push failed.
        ConfigError: ``PROMETHEUS_PUSHGATEWAY_URL`` is not an http(s) URL.
    """
    registry = CollectorRegistry()
    labels = {"model": model, "version": version, "metric": score.metric}
    _gauge(registry, "model_live_metric", "The version's score on the labelled batch.", labels).set(
        score.live
    )
    if score.heldout is not None:
        _gauge(
            registry,
            "model_heldout_metric",
            "The version's held-out score at registration (the gates' value).",
            labels,
        ).set(score.heldout)
    drop = score.drop_ratio
    if drop is not None:
        _gauge(
            registry,
            "model_metric_drop_ratio",
            "Relative loss of the live score against the held-out score (positive = worse).",
            labels,
        ).set(drop)
    path = root / MONITORING_DIR / "performance.prom"
    return _publish(registry, path, job="performance", model=model)


def export_window_metrics(
    registry: ModelRegistry, champion: VersionRecord | None, performance: float | None
) -> list[Path]:
    """After one ``retrain`` window: the retraining counter, and the champion's live score.

    The live score is exported when the window's batch was labelled (``performance``
    is the champion's ``retraining.performance.metric`` on it).
    """
    root = registry.paths.root
    written = [record_retraining(registry.versions(), model=registry.name, root=root)]
    config = registry.params.retraining.performance
    if champion is not None and performance is not None and config is not None:
        score = LiveScore(config.metric, performance, champion.metrics.get(config.metric))
        written.append(
            export_live_score(score, model=registry.name, version=champion.semver, root=root)
        )
    return written


def record_retraining(versions: Iterable[VersionRecord], *, model: str, root: Path) -> Path:
    """Write (and push) the retraining counter, counted from the registry's ``retrain.*`` tags.

    The registry is the count's memory: a CI job starts with an empty
    ``build/``, so a counter kept in the file would restart at 1 on every run
    and ``increase()`` would never see a retrain.

    Raises:
        PushgatewayError: ``PROMETHEUS_PUSHGATEWAY_URL`` is set and the push failed.
        ConfigError: ``PROMETHEUS_PUSHGATEWAY_URL`` is not an http(s) URL.
    """
    registry = CollectorRegistry()
    registry.register(_RetrainingCollector(model, list(versions)))
    return _publish(
        registry, root / MONITORING_DIR / "retraining.prom", job="retraining", model=model
    )


class _RetrainingCollector(Collector):
    """Retrains per trigger, and when the latest one finished, from version tags."""

    def __init__(self, model: str, versions: list[VersionRecord]) -> None:
        self.model = model
        self.retrained = [record for record in versions if RETRAIN_TRIGGER_TAG in record.tags]

    def collect(self) -> Iterator[Metric]:
        counts: dict[str, int] = {}
        for record in self.retrained:
            trigger = record.tags[RETRAIN_TRIGGER_TAG]
            counts[trigger] = counts.get(trigger, 0) + 1
        total = CounterMetricFamily(
            "model_retrainings",
            "Versions the retraining policy produced, by the triggers that fired.",
            labels=["model", "trigger"],
        )
        for trigger, count in sorted(counts.items()):
            total.add_metric([self.model, trigger], count)
        yield total
        stamps = [
            datetime.fromisoformat(record.tags[RETRAIN_AT_TAG]).timestamp()
            for record in self.retrained
            if record.tags.get(RETRAIN_AT_TAG)
        ]
        if stamps:
            latest = GaugeMetricFamily(
                "model_last_retraining_timestamp_seconds",
                "When the latest retrained version was produced (Unix time).",
                labels=["model"],
            )
            latest.add_metric([self.model], max(stamps))
            yield latest


def _gauge(registry: CollectorRegistry, name: str, text: str, labels: Mapping[str, str]) -> Gauge:
    """A gauge with one labelled child, ready to ``set``."""
    gauge = Gauge(name, text, list(labels), registry=registry)
    return gauge.labels(**labels)


def _publish(registry: CollectorRegistry, path: Path, *, job: str, model: str) -> Path:
    """Write the textfile atomically, then push it when a Pushgateway is configured."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    gateway = os.environ.get(PUSHGATEWAY_ENV, "").strip()
    if gateway:
        _check_gateway(gateway)
        try:
            push_to_gateway(
                gateway,
                job=job,
                registry=registry,
                grouping_key={"model": model},
                timeout=PUSH_TIMEOUT_SECONDS,
            )
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise PushgatewayError(
                f"Pushgateway {gateway} ({PUSHGATEWAY_ENV}) did not take the {job} metrics: "
                f"{reason}; they are in {path}."
            ) from None
    return path


def _check_gateway(gateway: str) -> None:
    parts = urlsplit(gateway)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(
            f"{PUSHGATEWAY_ENV} must be an http(s) URL such as http://pushgateway:9091; "
            f"got {gateway!r}."
        )
