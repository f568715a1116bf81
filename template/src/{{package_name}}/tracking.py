"""MLflow set-up: where runs and the registry live.

By default everything stays inside the project (``sqlite:///mlflow.db`` and
``mlartifacts/``), so the lifecycle works offline with no server. Setting
``MLFLOW_TRACKING_URI`` (and ``MLFLOW_REGISTRY_URI``) moves it to a shared
server without a code change.
"""

import os
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def tracking_uri(root: Path) -> str:
    """The tracking URI in force: the environment's, else the project's SQLite file."""
    return os.environ.get(TRACKING_URI_ENV) or f"sqlite:///{(root / 'mlflow.db').resolve()}"


def configure(root: Path, experiment: str) -> str:
    """Point MLflow at the project's store and select ``experiment``; return its id.

    A new experiment keeps its artifacts in ``<root>/mlartifacts`` when the
    store is local, so the project folder holds the whole registry.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    existing = client.get_experiment_by_name(experiment)
    if existing is not None:
        mlflow.set_experiment(experiment_id=existing.experiment_id)
        return str(existing.experiment_id)
    location = (root / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None
    experiment_id = client.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)
