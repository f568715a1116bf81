"""What the train stage computes, apart from recording it: which model, fitted how.

Kept free of MLflow, so the unit tests (``just check``) hold the stage's
decisions to account in a fraction of a second: with ``search:`` set the
best candidate by cross-validation replaces the configured hyper-parameters,
and the fitted strategy is wrapped with the training columns in their order,
which is the order every prediction path gives it.
"""

import pandas as pd

from ..config import ModelConfig, Params
from ..models.adapter import ModelAdapter
from ..models.base import ModelStrategy
from ..tuning.search import SearchResult, run_search


def choose_model(
    params: Params, features: pd.DataFrame, target: pd.Series
) -> tuple[ModelConfig, SearchResult | None]:
    """The model to train: the configured one, or its best candidate when ``search:`` is set."""
    if params.search.method == "none":
        return params.model, None
    search = run_search(params, features, target)
    return search.tuned(params.model), search


def fit(strategy: ModelStrategy, features: pd.DataFrame, target: pd.Series) -> ModelAdapter:
    """Fit ``strategy`` on the training split; the adapter remembers the column order."""
    strategy.fit(features, target)
    return ModelAdapter(strategy, feature_names=list(features.columns))
