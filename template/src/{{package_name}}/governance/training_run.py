"""What the MLflow training run of a version says about its data and hyper-parameters.

The registry's tags carry the data *hash*; the run carries the rest a card
reader asks for: the dataset's name, MLflow's digest of it, its size and
columns, and the parameters the model was fitted with.
"""

import json
from dataclasses import dataclass, field

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import ModelNotFoundError, TrackingServerError


@dataclass(frozen=True)
class TrainingDataset:
    """One dataset the run logged as an input."""

    name: str
    context: str
    digest: str
    rows: int | None
    columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingRun:
    """The run's logged inputs and parameters."""

    run_id: str
    datasets: list[TrainingDataset]
    params: dict[str, str]


def read_training_run(run_id: str) -> TrainingRun:
    """Fetch the run from the configured tracking store.

    Raises:
        ModelNotFoundError: the run no longer exists (deleted or another store).
        TrackingServerError: the tracking server does not answer.
    """
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException as exc:
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if "Connection" in message or "Max retries exceeded" in message:
            raise TrackingServerError(
                f"MLflow tracking server stopped answering: {message}"
            ) from None
        raise ModelNotFoundError(f"Training run {run_id} cannot be read: {message}") from None
    datasets = [
        TrainingDataset(
            name=entry.dataset.name,
            context=next((tag.value for tag in entry.tags if tag.key == "mlflow.data.context"), ""),
            digest=entry.dataset.digest,
            rows=_rows(entry.dataset.profile),
            columns=_columns(entry.dataset.schema),
        )
        for entry in run.inputs.dataset_inputs
    ]
    return TrainingRun(run_id=run_id, datasets=datasets, params=dict(run.data.params))


def _rows(profile: str | None) -> int | None:
    try:
        rows = json.loads(profile or "{}").get("num_rows")
    except (json.JSONDecodeError, AttributeError):
        return None
    return int(rows) if isinstance(rows, int) else None


def _columns(schema: str | None) -> list[str]:
    try:
        specs = json.loads(schema or "{}").get("mlflow_colspec", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    return [str(spec["name"]) for spec in specs if isinstance(spec, dict) and "name" in spec]
