"""``evaluate`` stage: score the trained model on held-out data.

Writes ``reports/metrics.json`` (read by ``dvc metrics`` and the gates) and
plot data under ``reports/plots`` (read by ``dvc plots``), and removes there
the plot files of the other problem type, which ``dvc.yaml`` no longer declares
once the project switched ``problem_type``. The register stage
records the metrics on the training run; this stage never imports MLflow, so it
starts in a fraction of the time.
"""

import logging
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_curve
from sklearn.preprocessing import label_binarize

from ..config import Params
from ..errors import ModelNotFoundError
from ..models.adapter import ModelAdapter
from ..models.base import SklearnClassifierStrategy
from ..paths import ProjectPaths
from .io import write_atomically, write_json
from .metrics import evaluate as score
from .prepare import load_prepared

logger = logging.getLogger(__name__)

# Every plot file this stage writes, per task: what ``dvc.yaml`` declares for it.
PLOT_FILES: dict[str, tuple[str, ...]] = {
    "classification": ("confusion.csv", "roc.csv"),
    "regression": ("residuals.csv",),
}


def evaluate(params: Params, paths: ProjectPaths) -> dict[str, float]:
    """Score the model from ``train`` and record metrics and plot data."""
    if not paths.model_file.is_file():
        raise ModelNotFoundError(f"{paths.model_file} is missing; run `just train` first.")
    adapter: ModelAdapter = joblib.load(paths.model_file)
    features, target = load_prepared(params, paths, "test")
    scores = score(adapter.strategy, params.task, features, target)
    write_json(paths.metrics, scores)
    write_plots(adapter, params, paths, features, target)
    return scores


def write_plots(
    adapter: ModelAdapter,
    params: Params,
    paths: ProjectPaths,
    features: pd.DataFrame,
    target: pd.Series,
) -> None:
    """Write the plot data ``dvc.yaml`` declares for the task (one file per plot).

    Each file is replaced atomically; then the plot files of the other tasks go,
    so no output the task no longer declares stays tracked. Any other file in
    ``reports/plots`` is left alone.
    """
    predicted = adapter.strategy.predict(features)
    if params.task == "classification":
        _write_csv(
            paths,
            "confusion.csv",
            pd.DataFrame({"actual": target.to_numpy(), "predicted": predicted}),
        )
        fpr, tpr = roc_points(adapter, features, target, predicted)
        _write_csv(paths, "roc.csv", pd.DataFrame({"fpr": fpr, "tpr": tpr}))
    else:
        residuals = target.to_numpy() - predicted
        _write_csv(
            paths,
            "residuals.csv",
            pd.DataFrame(
                {
                    "actual": target.to_numpy(),
                    "predicted": predicted,
                    "residual": np.round(residuals, 6),
                }
            ),
        )
    remove_stale_plots(paths, params.task)


def remove_stale_plots(paths: ProjectPaths, task: str) -> list[str]:
    """Remove the plot files of every task but ``task``; the names removed."""
    written = set(PLOT_FILES[task])
    stale = sorted({name for names in PLOT_FILES.values() for name in names} - written)
    removed = [name for name in stale if (paths.plots / name).is_file()]
    for name in removed:
        (paths.plots / name).unlink()
        logger.warning("removed reports/plots/%s: dvc.yaml declares no such %s plot", name, task)
    return removed


def roc_points(
    adapter: ModelAdapter, features: pd.DataFrame, target: pd.Series, predicted: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """One ROC curve for any number of classes.

    Binary: the positive class's curve. Multiclass: the micro-averaged
    one-vs-rest curve (every class's scores pooled), so ``dvc.yaml`` declares
    one ``roc.csv`` whatever the dataset. A strategy without probabilities is
    scored on its hard predictions (a curve through a single operating point).
    """
    strategy = adapter.strategy
    if isinstance(strategy, SklearnClassifierStrategy):
        classes, scores = strategy.classes, strategy.predict_proba(features)
    else:
        classes = sorted(set(target.tolist()) | set(predicted.tolist()))
        scores = label_binarize(predicted, classes=classes).astype(float)
    if len(classes) == 2:  # noqa: PLR2004 - binary: the positive class's scores
        fpr, tpr, _ = roc_curve(target, scores[:, -1], pos_label=classes[-1])
    else:
        truth = label_binarize(target, classes=classes)
        fpr, tpr, _ = roc_curve(truth.ravel(), scores.ravel())
    return fpr, tpr


def _write_csv(paths: ProjectPaths, name: str, frame: pd.DataFrame) -> None:
    write_atomically(paths.plots / name, lambda tmp: frame.to_csv(tmp, index=False))
