"""Factory: build the strategy that ``params.yaml`` asks for.

Each problem type's strategies live in a module named after the task
(``classification.py`` or ``regression.py``) that exports ``STRATEGIES``, a
mapping from ``model.kind`` to strategy class. Adding a strategy there is all
it takes for ``params.yaml`` to select it.
"""

from collections.abc import Mapping
from importlib import import_module

from ..config import ModelConfig, Task
from ..errors import ConfigError
from .base import ModelStrategy


def available_strategies(task: Task) -> Mapping[str, type[ModelStrategy]]:
    """Strategies registered for ``task``, keyed by ``model.kind``.

    Raises:
        ConfigError: the project has no strategy module for ``task``.
    """
    try:
        module = import_module(f"{__package__}.{task}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{task}":
            raise
        raise ConfigError(
            f"This project has no {task} strategies ({__package__}.{task} is missing); "
            "set `task` in params.yaml to the problem type the project was generated for."
        ) from None
    strategies: Mapping[str, type[ModelStrategy]] = module.STRATEGIES
    return strategies


def build_model(task: Task, config: ModelConfig) -> ModelStrategy:
    """Instantiate the configured strategy with its validated hyper-parameters.

    Raises:
        ConfigError: unknown ``model.kind`` or invalid hyper-parameters.
    """
    strategies = available_strategies(task)
    try:
        strategy = strategies[config.kind]
    except KeyError:
        accepted = ", ".join(sorted(strategies))
        raise ConfigError(
            f"Unknown model.kind {config.kind!r} for {task}; accepted: {accepted}."
        ) from None
    return strategy(**config.params)
