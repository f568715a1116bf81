"""Hyper-parameter models shared by classifier and regressor strategies."""

from pydantic import Field

from .base import HyperParameters


class RandomForestParams(HyperParameters):
    """Size and depth of the forest; ``seed`` makes training repeatable."""

    n_estimators: int = Field(default=200, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=1, ge=1)
    seed: int = 42


class GradientBoostingParams(HyperParameters):
    """Boosting rounds and step size; ``seed`` makes training repeatable."""

    max_iter: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    max_depth: int | None = Field(default=None, ge=1)
    seed: int = 42
