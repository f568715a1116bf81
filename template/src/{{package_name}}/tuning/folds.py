"""Cross-validation folds, and the task that scores one candidate on one fold.

:func:`score_fold` is what runs on a worker (a local process or a Dask
worker): it gets the search's data once (:class:`SearchData`, shared by
the backend) and one :class:`FoldTask`, fits a fresh strategy on the other
folds and scores it on this one with the task's metrics. Fold assignment is
done once, here in the driver, from ``search.seed``, so every backend fits
the same rows.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import ModelConfig, Task
from ..models.factory import build_model
from ..pipeline.metrics import evaluate
from .space import Values, tuned


@dataclass(frozen=True)
class SearchData:
    """What every task of a search needs: the training split and who is in which fold."""

    task: Task
    model: ModelConfig
    features: pd.DataFrame
    target: pd.Series
    #: The fold (0-based) each training row is held out in.
    folds: npt.NDArray[np.int64]


@dataclass(frozen=True)
class FoldTask:
    """Score candidate ``candidate`` (its ``params``) with fold ``fold`` held out."""

    candidate: int
    fold: int
    params: Values

    def describe(self) -> str:
        """How a failure names the task."""
        shown = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        return f"search candidate {self.candidate} ({shown}) fold {self.fold}"


@dataclass(frozen=True)
class FoldScore:
    """The task's metrics on its held-out fold."""

    candidate: int
    fold: int
    metrics: dict[str, float]


def assign_folds(task: Task, target: pd.Series, folds: int, seed: int) -> npt.NDArray[np.int64]:
    """Shuffled k-fold assignment, stratified by class for classification.

    Raises:
        ValueError: a class has fewer rows than ``folds`` (scikit-learn's message).
    """
    from sklearn.model_selection import KFold, StratifiedKFold  # noqa: PLC0415

    splitter: Any = (
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        if task == "classification"
        else KFold(n_splits=folds, shuffle=True, random_state=seed)
    )
    assignment = np.empty(len(target), dtype=np.int64)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(target)), target)):
        assignment[held_out] = fold
    return assignment


def score_fold(data: SearchData, task: FoldTask) -> FoldScore:
    """Fit the candidate on every fold but ``task.fold``; score it on that one."""
    strategy = build_model(data.task, tuned(data.model, task.params))
    held_out = data.folds == task.fold
    strategy.fit(data.features[~held_out], data.target[~held_out])
    metrics = evaluate(strategy, data.task, data.features[held_out], data.target[held_out])
    return FoldScore(task.candidate, task.fold, metrics)
