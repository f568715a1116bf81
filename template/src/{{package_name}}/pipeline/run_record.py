"""The training run's record: what ``train`` hands to ``evaluate`` and ``register``.

Kept apart from the train stage so the later stages read it without importing
MLflow or the model libraries (each stage is its own process).
"""

from dataclasses import dataclass
from typing import Any

from ..paths import ProjectPaths
from .io import read_json


@dataclass(frozen=True)
class TrainedRun:
    """What ``evaluate`` and ``register`` need to know about the training run."""

    run_id: str
    model_uri: str
    model_kind: str
    params_hash: str
    signature_hash: str
    lineage: dict[str, Any]


def load_run(paths: ProjectPaths) -> TrainedRun:
    """The record ``train`` wrote for the latest run."""
    return TrainedRun(**read_json(paths.run_record, produced_by="just train"))
