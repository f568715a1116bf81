"""The ``train`` step: data → validation → split → fit → metrics and model file."""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import joblib

from ..config import Params
from ..data.loader import load_dataset
from ..data.schema import validate_training_frame
from ..data.split import split_frame
from ..models.adapter import ModelAdapter
from ..models.factory import build_model
from .metrics import evaluate

logger = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class TrainingResult:
    """What one training run produced, and where it was written."""

    metrics: dict[str, float]
    model_path: Path
    metrics_path: Path
    n_train: int
    n_test: int


def train(params: Params, model_dir: Path, metrics_dir: Path) -> TrainingResult:
    """Train the configured strategy and write the model and its held-out metrics.

    Outputs are written to a temporary name and renamed, so an interrupted run
    never leaves a half-written model or metrics file behind.
    """
    frame = load_dataset(params.data.dataset, params.data.target)
    frame = validate_training_frame(frame, params.data.target, params.task, params.data.min_rows)
    split = split_frame(frame, params.data.target, params.task, params.split)
    logger.info(
        "Training %s on %d rows, evaluating on %d",
        params.model.kind,
        len(split.x_train),
        len(split.x_test),
    )

    model = build_model(params.task, params.model).fit(split.x_train, split.y_train)
    scores = evaluate(model, params.task, split.x_test, split.y_test)

    adapter = ModelAdapter(model, feature_names=list(split.x_train.columns))
    model_path = _write_atomically(model_dir / MODEL_FILE, lambda tmp: joblib.dump(adapter, tmp))
    metrics_path = _write_atomically(
        metrics_dir / METRICS_FILE,
        lambda tmp: tmp.write_text(
            json.dumps(scores, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        ),
    )
    return TrainingResult(
        metrics=scores,
        model_path=model_path,
        metrics_path=metrics_path,
        n_train=len(split.x_train),
        n_test=len(split.x_test),
    )


def _write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
