"""Typed view of ``params.yaml``.

The pipeline reads its parameters only through these models, so a typo or a
wrong type in ``params.yaml`` fails at start-up with the offending key named,
not minutes later inside a library call.
"""

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError

Task = Literal["classification", "regression"]
Stage = Literal["development", "staging", "production", "archived"]

# Whether a larger value of each metric is better; gates and comparisons rely on it.
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "roc_auc": True,
    "r2": True,
    "rmse": False,
    "mae": False,
}
#: The metrics ``evaluate`` reports for each task; gates may only name these.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "precision", "recall", "roc_auc"),
    "regression": ("r2", "rmse", "mae"),
}


#: A byte size as Dask reads one: a number and a unit (``2GiB``, ``512MB``, ``1.5GB``).
_MEMORY_PATTERN = r"^\d+(\.\d+)?\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB)$"


class _Strict(BaseModel):
    """Reject unknown keys so misspelt parameters are reported, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Which dataset to load and how much of it is required."""

    dataset: str = Field(min_length=1)
    target: str = Field(default="target", min_length=1)
    min_rows: int = Field(default=100, ge=1)


class SplitConfig(_Strict):
    """Hold-out split; a fixed seed keeps every run comparable."""

    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 42


class ModelConfig(_Strict):
    """The strategy to train (``kind``) and its hyper-parameters."""

    kind: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class TrackingConfig(_Strict):
    """MLflow experiment the pipeline logs runs to."""

    experiment: str = Field(min_length=1)


class RegistryConfig(_Strict):
    """Registered model name, how far the pipeline promotes a new version, and in experiments.

    ``experiments``: what the register stage does inside a DVC experiment
    (``dvc exp run``, any mode): ``skip`` registers nothing (the run keeps its
    metrics in MLflow), ``register`` registers and promotes as ``just pipeline`` does.
    """

    model_name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    promote_to: Literal["development", "staging"] = "staging"
    experiments: Literal["skip", "register"] = "skip"


class GatesConfig(BaseModel):
    """Promotion gates: ``min_<metric>``/``max_<metric>`` thresholds plus the fixed keys below.

    ``max_regression`` is the largest relative loss on ``primary_metric`` allowed
    against the current champion (0.05 = 5 %).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    primary_metric: str = Field(min_length=1)
    max_regression: float = Field(default=0.05, ge=0.0)
    require_drift_check: bool = False

    @field_validator("primary_metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in HIGHER_IS_BETTER:
            raise ValueError(f"unknown metric {value!r}; accepted: {', '.join(HIGHER_IS_BETTER)}")
        return value

    def thresholds(self) -> dict[str, float]:
        """The ``min_*``/``max_*`` gates, validated to be numbers."""
        extra = self.model_extra or {}
        unknown = [key for key in extra if not key.startswith(("min_", "max_"))]
        if unknown:
            raise ConfigError(
                f"Unknown gate(s) {', '.join(sorted(unknown))}; gates accepts min_<metric>, "
                "max_<metric>, primary_metric, max_regression and require_drift_check."
            )
        thresholds: dict[str, float] = {}
        for key, value in extra.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"Gate {key} must be a number, got {value!r}.")
            thresholds[key] = float(value)
        return thresholds


class DriftConfig(_Strict):
    """When a batch counts as drifted from the training data (``just drift``).

    Thresholds are on effect sizes: the population stability index (PSI) and
    the Kolmogorov-Smirnov statistic D. A feature is flagged only when its
    p-value is also below ``alpha`` (shared across features, Bonferroni), so
    noise in a small batch is not called drift and a tiny, harmless shift in a
    huge batch (where every p-value is ~0) is not either.
    """

    psi_investigate: float = Field(default=0.2, gt=0.0)
    psi_drift: float = Field(default=0.25, gt=0.0)
    ks_threshold: float = Field(default=0.1, gt=0.0, lt=1.0)
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    min_rows: int = Field(default=100, ge=1)
    #: Quantile bins of each numeric feature in the training profile (PSI).
    bins: int = Field(default=10, ge=2, le=100)
    #: Training values kept per numeric feature for KS (evenly spaced quantiles).
    sample_size: int = Field(default=5000, ge=100, le=100_000)

    @model_validator(mode="after")
    def _ordered_psi(self) -> "DriftConfig":
        if self.psi_drift < self.psi_investigate:
            raise ValueError(
                f"psi_drift ({self.psi_drift}) must be at least psi_investigate "
                f"({self.psi_investigate})"
            )
        return self


class ScheduleTriggerConfig(_Strict):
    """Retrain a model that has grown old, whatever the monitoring says."""

    #: Days since the champion was registered or the last retrain, whichever is later.
    max_age_days: float = Field(gt=0.0)


class DriftTriggerConfig(_Strict):
    """Retrain when the drift check says ``drift`` on consecutive batches."""

    windows: int = Field(default=2, ge=1)


class PerformanceTriggerConfig(_Strict):
    """Retrain when the champion scores worse than ``threshold`` on labelled batches.

    ``consecutive`` needs ``windows`` breaching batches in a row; ``ewma`` smooths
    the metric (weight ``ewma_alpha`` on the newest batch) and judges the
    smoothed value once ``windows`` batches were seen. After a retrain the
    trigger re-arms only once the metric is ``recovery_margin`` on the good
    side of the threshold (hysteresis), so noise around it cannot loop retraining.
    """

    metric: str = Field(min_length=1)
    threshold: float
    smoothing: Literal["consecutive", "ewma"] = "consecutive"
    windows: int = Field(default=3, ge=1)
    ewma_alpha: float = Field(default=0.3, gt=0.0, le=1.0)
    recovery_margin: float = Field(default=0.0, ge=0.0)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in HIGHER_IS_BETTER:
            raise ValueError(f"unknown metric {value!r}; accepted: {', '.join(HIGHER_IS_BETTER)}")
        return value


class RetrainingConfig(_Strict):
    """When ``just retrain`` retrains: any configured trigger fires; ``null`` turns one off.

    ``cooldown_hours`` spaces out retrains by automatic triggers; a forced
    retrain (``--force``) is a deliberate decision and ignores it.
    """

    cooldown_hours: float = Field(default=24.0, ge=0.0)
    schedule: ScheduleTriggerConfig | None = None
    drift: DriftTriggerConfig | None = DriftTriggerConfig()
    performance: PerformanceTriggerConfig | None = None


#: A value a hyper-parameter may take in a search space.
SearchValue = bool | int | float | str | None
#: Candidates a grid may hold; a larger grid is a typo, or a job for random or optuna.
MAX_GRID = 10_000


class SearchRange(_Strict):
    """A range to draw from (random and optuna): integers when both bounds are integers."""

    low: int | float
    high: int | float
    #: Draw on a log scale (a regularisation strength, a learning rate).
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "SearchRange":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low}")
        return self

    @property
    def integer(self) -> bool:
        """Whether both bounds are integers, so draws are integers too."""
        return isinstance(self.low, int) and isinstance(self.high, int)


class SearchConfig(_Strict):
    """Hyper-parameter search: which candidates, scored how, tried in what order.

    Each candidate is ``model.params`` updated with one value per ``space``
    entry. ``grid`` tries every combination (in the order the space lists
    them), ``random`` draws ``trials`` candidates with ``seed``, ``optuna``
    proposes ``trials`` with TPE, ``batch`` at a time, pruning the poor ones
    fold by fold. Every candidate is scored by ``folds``-fold cross-validation
    on the training split; ``none`` trains ``model.params`` as they are.
    """

    method: Literal["none", "grid", "random", "optuna"] = "none"
    folds: int = Field(default=3, ge=2, le=20)
    seed: int = 42
    trials: int = Field(default=20, ge=1, le=10_000)
    batch: int = Field(default=4, ge=1, le=256)
    space: dict[str, list[SearchValue] | SearchRange] = Field(default_factory=dict)

    @field_validator("space", mode="before")
    @classmethod
    def _ranges(cls, space: object) -> object:
        """Read each mapping as a range, so a bad one gets one message, not one per type."""
        if not isinstance(space, dict):
            return space
        read: dict[object, object] = {}
        for name, values in space.items():
            if isinstance(values, dict):
                try:
                    read[name] = SearchRange.model_validate(values)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(part) for part in first["loc"])
                    detail = first["msg"].removeprefix("Value error, ")
                    raise ValueError(
                        f"{name}: {where + ': ' if where else ''}{detail} (a range has low, "
                        "high and optionally log)"
                    ) from None
            elif not isinstance(values, list | SearchRange):
                raise ValueError(
                    f"{name}: {values!r} is neither a list of values nor a range with low and high"
                )
            else:
                read[name] = values
        return read

    @model_validator(mode="after")
    def _usable_space(self) -> "SearchConfig":
        if self.method == "none":
            return self
        if not self.space:
            raise ValueError(f"method {self.method} needs a space: a hyper-parameter and values")
        for name, values in self.space.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"space.{name} lists no values")
            if self.method == "grid" and isinstance(values, SearchRange):
                raise ValueError(
                    f"space.{name} is a range; grid needs a list of values (ranges are for "
                    "random and optuna)"
                )
        if self.method == "grid" and self.grid_size() > MAX_GRID:
            raise ValueError(
                f"the grid has {self.grid_size()} candidates (more than {MAX_GRID}); use "
                "random or optuna with trials"
            )
        return self

    def grid_size(self) -> int:
        """Candidates in the full grid (ranges count as one value)."""
        size = 1
        for values in self.space.values():
            size *= len(values) if isinstance(values, list) else 1
        return size


class ComputeConfig(_Strict):
    """Where tuning, batch scoring and drift checks run; never changes what they compute.

    ``local``: ``workers`` processes on this machine (1: in this process).
    ``dask``: the cluster at ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``, which
    takes precedence over both keys), or else a loopback cluster of ``workers``
    processes started for the command, each limited to ``memory_per_task``.
    """

    backend: Literal["local", "dask"] = "local"
    workers: int = Field(default=2, ge=1, le=1024)
    #: A Dask worker's memory limit (one task at a time per worker): ``4GiB``, ``500MB``.
    memory_per_task: str = Field(default="2GiB", pattern=_MEMORY_PATTERN)
    #: A running cluster's scheduler, ``tcp://host:8786``; null starts a loopback one.
    scheduler: str | None = Field(default=None, pattern=r"^(tcp|tls|ws|wss)://[^\s/]+:\d+$")
    #: Rows per task when one large file is split (a CSV, or a Parquet row group's rows).
    partition_rows: int = Field(default=250_000, ge=1_000)


#: The last rollout step: the canary, promoted, takes all of the traffic.
_ALL_TRAFFIC = 100
#: PromQL label matchers added to every rollout query: ``namespace="models",job="kserve"``.
_SELECTOR_PATTERN = (
    r'^$|^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"[^"\\]*"'
    r'(\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"[^"\\]*")*\s*$'
)


class RolloutObjectives(_Strict):
    """What a canary must meet at every step of ``just rollout`` (null turns one off)."""

    #: Canary prediction requests answered 5xx, over all of them.
    max_error_ratio: float | None = Field(default=0.01, ge=0.0, le=1.0)
    #: Canary p95 latency over the stable version's p95, on the same routes and window.
    max_latency_ratio: float | None = Field(default=1.5, ge=1.0)
    #: PSI between the canary's and the stable version's served predictions.
    max_psi: float | None = Field(default=0.2, gt=0.0)


class RolloutConfig(_Strict):
    """``just rollout``: the traffic steps, how long each is watched, and its objectives.

    Every step but the last is a canary share (1-99 %) judged against the
    objectives after ``wait_seconds``; the last step is 100: a canary that
    passed every earlier step is promoted through the production gates and
    deployed to all of the traffic.
    """

    steps: list[int] = Field(default_factory=lambda: [5, 25, 50, 100])
    wait_seconds: float = Field(default=300.0, gt=0.0, le=86_400.0)
    #: Canary prediction requests a step needs before it is judged at all.
    min_requests: int = Field(default=100, ge=1)
    #: Extra waits a step with too little traffic gets before the rollout stops.
    inconclusive_waits: int = Field(default=2, ge=0, le=100)
    #: Where a rollout that stayed inconclusive leaves the canary: rolled back or held.
    on_inconclusive: Literal["rollback", "hold"] = "rollback"
    #: Label matchers every query adds, to pick this model's servers out of a shared Prometheus.
    selector: str = ""
    objectives: RolloutObjectives = RolloutObjectives()

    @field_validator("steps")
    @classmethod
    def _steps_climb_to_100(cls, steps: list[int]) -> list[int]:
        """Increasing canary shares from 1 to 99, ending with 100 (the promotion)."""
        canary = steps[:-1]
        if (
            not canary
            or steps[-1] != _ALL_TRAFFIC
            or any(not 0 < step < _ALL_TRAFFIC for step in canary)
            or canary != sorted(set(canary))
        ):
            raise ValueError(
                f"{steps} is not a rollout: give increasing canary percents from 1 to 99 "
                "and end with 100 (the promotion), e.g. [5, 25, 50, 100]"
            )
        return steps

    @field_validator("selector")
    @classmethod
    def _selector_is_matchers(cls, selector: str) -> str:
        """Comma-separated PromQL label matchers, nothing else reaches a query."""
        if not re.fullmatch(_SELECTOR_PATTERN, selector):
            raise ValueError(
                f"{selector!r} is not a list of PromQL label matchers: use "
                'name="value" (or !=, =~, !~) separated by commas, e.g. namespace="models"'
            )
        return selector


class Params(_Strict):
    """Everything ``params.yaml`` may contain."""

    task: Task
    data: DataConfig
    split: SplitConfig = SplitConfig()
    model: ModelConfig
    tracking: TrackingConfig
    registry: RegistryConfig
    gates: GatesConfig
    drift: DriftConfig = DriftConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    search: SearchConfig = SearchConfig()
    compute: ComputeConfig = ComputeConfig()
    rollout: RolloutConfig = RolloutConfig()

    @model_validator(mode="after")
    def _gates_fit_the_task(self) -> "Params":
        """Every gate must name a metric this task reports (catches ``min_acuracy``)."""
        known = TASK_METRICS[self.task]
        accepted = ", ".join(known)
        if self.gates.primary_metric not in known:
            raise ValueError(
                f"gates.primary_metric {self.gates.primary_metric!r} is not a {self.task} "
                f"metric; accepted: {accepted}"
            )
        try:
            thresholds = self.gates.thresholds()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        for gate in sorted(thresholds):
            metric = gate.split("_", 1)[1]
            if metric not in known:
                raise ValueError(
                    f"gate {gate} names unknown metric {metric!r}; {self.task} gates accept "
                    f"min_/max_ with: {accepted}"
                )
        return self

    @model_validator(mode="after")
    def _retraining_metric_fits_the_task(self) -> "Params":
        """The performance trigger watches a metric this task reports."""
        performance = self.retraining.performance
        if performance is not None and performance.metric not in TASK_METRICS[self.task]:
            raise ValueError(
                f"retraining.performance.metric {performance.metric!r} is not a {self.task} "
                f"metric; accepted: {', '.join(TASK_METRICS[self.task])}"
            )
        return self


def load_params(path: Path) -> Params:
    """Read and validate a parameters file.

    Raises:
        ConfigError: the file is missing, is not YAML, or breaks the schema.
    """
    if not path.is_file():
        raise ConfigError(
            f"Parameters file not found: {path}. Run from the project root or pass --params."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must contain a mapping of parameters, got {type(raw).__name__}.")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(
                filter(
                    None,
                    [
                        ".".join(str(part) for part in error["loc"]),
                        error["msg"].removeprefix("Value error, "),
                    ],
                )
            )
            for error in exc.errors()
        )
        raise ConfigError(f"Invalid parameters in {path}: {problems}") from exc
