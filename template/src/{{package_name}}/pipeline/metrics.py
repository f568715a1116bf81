"""Evaluation metrics per problem type.

Names are stable keys: gates in ``params.yaml`` refer to them
(``min_accuracy``, ``max_rmse``, ...), so renaming one is a breaking change.
"""

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn import metrics

from ..config import Task
from ..models.base import ModelStrategy, SklearnClassifierStrategy


def classification_metrics(
    y_true: pd.Series, y_pred: npt.NDArray[Any], y_score: npt.NDArray[np.float64] | None
) -> dict[str, float]:
    """Accuracy, macro F1/precision/recall, and ROC AUC when scores exist."""
    scores = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "f1": metrics.f1_score(y_true, y_pred, average="macro"),
        "precision": metrics.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "recall": metrics.recall_score(y_true, y_pred, average="macro", zero_division=0),
    }
    if y_score is not None:
        if y_score.shape[1] == 2:  # noqa: PLR2004 - binary: score of the positive class
            scores["roc_auc"] = metrics.roc_auc_score(y_true, y_score[:, 1])
        else:
            scores["roc_auc"] = metrics.roc_auc_score(y_true, y_score, multi_class="ovr")
    return {name: round(float(value), 6) for name, value in scores.items()}


def regression_metrics(y_true: pd.Series, y_pred: npt.NDArray[Any]) -> dict[str, float]:
    """R², RMSE and MAE."""
    scores = {
        "r2": metrics.r2_score(y_true, y_pred),
        "rmse": metrics.root_mean_squared_error(y_true, y_pred),
        "mae": metrics.mean_absolute_error(y_true, y_pred),
    }
    return {name: round(float(value), 6) for name, value in scores.items()}


def evaluate(
    model: ModelStrategy, task: Task, features: pd.DataFrame, target: pd.Series
) -> dict[str, float]:
    """Score a trained model on held-out data with the metrics of its task."""
    predictions = model.predict(features)
    if task == "classification":
        scores = (
            model.predict_proba(features) if isinstance(model, SklearnClassifierStrategy) else None
        )
        return classification_metrics(target, predictions, scores)
    return regression_metrics(target, predictions)
