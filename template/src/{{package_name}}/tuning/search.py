"""Run a search: candidates x folds on the compute backend; the best candidate, chosen once.

The best candidate has the best mean of ``gates.primary_metric`` over the
folds (the gates judge the model by it); ties go to the earlier candidate,
so the choice never depends on which worker finished first. Every candidate
and fold score is kept for the tracking run and ``just tune``'s table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compute import ComputeBackend, open_backend
from ..config import HIGHER_IS_BETTER, ModelConfig, Params
from ..errors import ConfigError
from .folds import FoldScore, FoldTask, SearchData, assign_folds, score_fold
from .space import Values, check_candidates, grid, random_draws, suggest, tuned

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)
#: Decimals of a mean score (as the metrics themselves are rounded).
SCORE_DECIMALS = 6


@dataclass(frozen=True)
class Candidate:
    """One candidate's values and its metrics on each fold it was scored on."""

    index: int
    params: Values
    folds: tuple[dict[str, float], ...]
    #: Optuna stopped it early: its folds are fewer, and it cannot be chosen.
    pruned: bool = False

    def mean(self, metric: str) -> float:
        """The metric's mean over the scored folds."""
        return round(float(np.mean([fold[metric] for fold in self.folds])), SCORE_DECIMALS)

    def means(self) -> dict[str, float]:
        """Every metric's mean over the scored folds."""
        return {name: self.mean(name) for name in self.folds[0]}


@dataclass(frozen=True)
class SearchResult:
    """What a search tried, and which candidate won on ``metric``."""

    method: str
    metric: str
    folds: int
    candidates: tuple[Candidate, ...]
    #: Where the tasks ran (for the tracking run; never changes the result).
    backend: str

    @property
    def best(self) -> Candidate:
        """The best mean ``metric`` among complete candidates; ties to the earliest."""
        sign = 1.0 if HIGHER_IS_BETTER[self.metric] else -1.0
        complete = [candidate for candidate in self.candidates if not candidate.pruned]
        return max(complete, key=lambda c: (sign * c.mean(self.metric), -c.index))

    def tuned(self, model: ModelConfig) -> ModelConfig:
        """``model`` with the best candidate's values."""
        return tuned(model, self.best.params)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly: method, the best candidate and its mean scores."""
        best = self.best
        return {
            "method": self.method,
            "metric": self.metric,
            "folds": self.folds,
            "candidates": len(self.candidates),
            "pruned": sum(candidate.pruned for candidate in self.candidates),
            "best_candidate": best.index,
            "best_params": best.params,
            f"cv_{self.metric}": best.mean(self.metric),
        }


def run_search(params: Params, features: pd.DataFrame, target: pd.Series) -> SearchResult:
    """Search ``search.space`` on the training split, on the configured backend.

    Raises:
        ConfigError: ``search.method`` is ``none``, the space does not fit the model,
            or the folds do not fit the data.
        ProjectError: a fit failed (one line naming the candidate and fold).
    """
    search = params.search
    if search.method == "none":
        raise ConfigError(
            "search.method is none in params.yaml; set grid, random or optuna (and a space)"
        )
    try:
        folds = assign_folds(params.task, target, search.folds, search.seed)
    except ValueError as exc:
        raise ConfigError(f"search.folds={search.folds} does not fit the data: {exc}") from None
    data = SearchData(params.task, params.model, features, target, folds)
    metric = params.gates.primary_metric
    with open_backend(params.compute) as backend:
        logger.info("Searching on %s", backend.describe())
        if search.method == "optuna":
            candidates = _optuna(params, data, backend)
        else:
            values = grid(search) if search.method == "grid" else random_draws(search)
            check_candidates(params.task, params.model, values)
            candidates = _cross_validate(values, data, backend, search.folds)
        where = backend.describe()
    return SearchResult(search.method, metric, search.folds, tuple(candidates), where)


def _cross_validate(
    candidates: list[Values], data: SearchData, backend: ComputeBackend, folds: int
) -> list[Candidate]:
    tasks = (
        FoldTask(index, fold, values)
        for index, values in enumerate(candidates)
        for fold in range(folds)
    )
    scores = iter(backend.map(score_fold, tasks, label=FoldTask.describe, shared=data))
    return [
        Candidate(index, values, tuple(score.metrics for score in _take(scores, folds)))
        for index, values in enumerate(candidates)
    ]


def _optuna(params: Params, data: SearchData, backend: ComputeBackend) -> list[Candidate]:
    """TPE proposals, ``batch`` at a time, scored fold by fold; the median pruner stops the poor.

    The sampler is seeded and asked in a fixed order, and each batch is told its
    results in trial order, so the same seed, trials and batch propose the same
    candidates on any backend.
    """
    import optuna  # noqa: PLC0415 - only for this method

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search, metric = params.search, params.gates.primary_metric
    study = optuna.create_study(
        direction="maximize" if HIGHER_IS_BETTER[metric] else "minimize",
        sampler=optuna.samplers.TPESampler(seed=search.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=search.batch, n_warmup_steps=0),
    )
    candidates: list[Candidate] = []
    while len(candidates) < search.trials:
        trials = [study.ask() for _ in range(min(search.batch, search.trials - len(candidates)))]
        proposed = {trial.number: suggest(trial, search) for trial in trials}
        check_candidates(params.task, params.model, list(proposed.values()))
        scored: dict[int, list[dict[str, float]]] = {trial.number: [] for trial in trials}
        alive = list(trials)
        for fold in range(search.folds):
            tasks = [FoldTask(trial.number, fold, proposed[trial.number]) for trial in alive]
            for score in backend.map(score_fold, tasks, label=FoldTask.describe, shared=data):
                scored[score.candidate].append(score.metrics)
            for trial in alive:
                trial.report(_mean(scored[trial.number], metric), step=fold)
            if fold < search.folds - 1:
                alive = [trial for trial in alive if not _pruned(study, trial)]
        for trial in trials:
            complete = trial in alive
            if complete:
                study.tell(trial, _mean(scored[trial.number], metric))
            candidates.append(
                Candidate(
                    trial.number,
                    proposed[trial.number],
                    tuple(scored[trial.number]),
                    pruned=not complete,
                )
            )
    return candidates


def _pruned(study: Any, trial: Any) -> bool:
    import optuna  # noqa: PLC0415

    if trial.should_prune():
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return True
    return False


def _mean(folds: list[dict[str, float]], metric: str) -> float:
    return round(float(np.mean([fold[metric] for fold in folds])), SCORE_DECIMALS)


def _take(scores: Iterator[FoldScore], count: int) -> Iterable[FoldScore]:
    return [next(scores) for _ in range(count)]
