"""The candidates of a search space, and the check that each one is a valid model.

A candidate is ``model.params`` with one value per ``search.space`` entry.
Grid and random candidates are a pure function of the space and the seed,
so the same ``params.yaml`` searches the same candidates on every machine.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import ModelConfig, SearchConfig, SearchRange, SearchValue, Task
from ..errors import ConfigError
from ..models.factory import available_strategies, build_model

if TYPE_CHECKING:
    import optuna

#: One candidate's values for the hyper-parameters the space names.
Values = dict[str, SearchValue]
#: Significant digits a drawn float keeps: readable in logs and params.yaml, still exact.
DRAWN_DIGITS = 6


def grid(space: SearchConfig) -> list[Values]:
    """Every combination, the first entry's values varying slowest, as the space lists them."""
    names = list(space.space)
    lists = [space.space[name] for name in names]
    return [
        dict(zip(names, combination, strict=True))
        for combination in itertools.product(*(v for v in lists if isinstance(v, list)))
    ]


def random_draws(space: SearchConfig) -> list[Values]:
    """``trials`` candidates drawn with ``seed``: a list uniformly, a range as declared."""
    rng = np.random.default_rng(space.seed)
    return [
        {name: _draw(rng, values) for name, values in space.space.items()}
        for _ in range(space.trials)
    ]


def suggest(trial: optuna.trial.Trial, space: SearchConfig) -> Values:
    """Optuna's proposal for one trial: a category per list, a number per range."""
    values: Values = {}
    for name, spec in space.space.items():
        if isinstance(spec, list):
            values[name] = trial.suggest_categorical(name, spec)
        elif spec.integer:
            values[name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
        else:
            values[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    return values


def tuned(model: ModelConfig, values: Values) -> ModelConfig:
    """``model`` with a candidate's values over its ``params``."""
    return ModelConfig(kind=model.kind, params={**model.params, **values})


def check_candidates(task: Task, model: ModelConfig, candidates: list[Values]) -> None:
    """Fail before any fit when the space names an unknown hyper-parameter or a bad value.

    Raises:
        ConfigError: names the hyper-parameter (and the accepted ones) or the candidate.
    """
    strategy = available_strategies(task).get(model.kind)
    accepted = _accepted_names(strategy)
    for name in candidates[0] if candidates else {}:
        if accepted is not None and name not in accepted:
            raise ConfigError(
                f"search.space.{name} is not a hyper-parameter of model.kind {model.kind!r}; "
                f"accepted: {', '.join(sorted(accepted))}"
            )
    for index, values in enumerate(candidates):
        try:
            build_model(task, tuned(model, values))
        except ConfigError as exc:
            raise ConfigError(f"search candidate {index} ({_shown(values)}): {exc}") from None


def _accepted_names(strategy: Any) -> set[str] | None:
    params = getattr(strategy, "Params", None)
    return set(params.model_fields) if params is not None else None


def _draw(rng: np.random.Generator, spec: list[SearchValue] | SearchRange) -> SearchValue:
    if isinstance(spec, list):
        return spec[int(rng.integers(len(spec)))]
    if spec.integer:
        low, high = int(spec.low), int(spec.high)
        if not spec.log:
            return int(rng.integers(low, high + 1))
        drawn = math.exp(rng.uniform(math.log(low), math.log(high + 1)))
        return min(high, int(drawn))
    if spec.log:
        value = math.exp(rng.uniform(math.log(spec.low), math.log(spec.high)))
    else:
        value = rng.uniform(spec.low, spec.high)
    return float(f"{value:.{DRAWN_DIGITS}g}")


def _shown(values: Values) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in values.items())
