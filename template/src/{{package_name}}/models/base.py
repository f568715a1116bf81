"""The Strategy interface every model implements.

It mirrors scikit-learn's estimator contract (``fit`` / ``predict`` /
``get_params``) so it feels familiar, while letting the pipeline, the registry
and serving treat every model the same way, whichever library is underneath.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ..config import Task
from ..errors import ConfigError, ModelNotFittedError

if TYPE_CHECKING:  # annotations only: building a strategy need not import pandas
    import numpy.typing as npt
    import pandas as pd


class HyperParameters(BaseModel):
    """Base for a strategy's hyper-parameters: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelStrategy(ABC):
    """A trainable model with scikit-learn's shape."""

    #: Name used as ``model.kind`` in ``params.yaml``.
    kind: ClassVar[str]
    #: The problem the strategy solves.
    task: ClassVar[Task]

    @abstractmethod
    def fit(self, features: pd.DataFrame, target: pd.Series) -> Self:
        """Train on ``features`` and ``target``; return ``self`` for chaining."""

    @abstractmethod
    def predict(self, features: pd.DataFrame) -> npt.NDArray[Any]:
        """Predict one value per row of ``features``."""

    @abstractmethod
    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters that identify this model configuration."""


class SklearnStrategy(ModelStrategy):
    """A strategy backed by a scikit-learn estimator.

    Subclasses declare their hyper-parameters as a pydantic model and build
    the estimator from them; this class handles validation, fitting state and
    the feature order seen during training.
    """

    Params: ClassVar[type[HyperParameters]]

    def __init__(self, **params: Any) -> None:
        try:
            self._params = self.Params(**params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'params'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(
                f"Invalid hyper-parameters for model {self.kind!r}: {problems}"
            ) from exc
        self._estimator: Any = None
        self._features: list[str] = []

    @abstractmethod
    def _build_estimator(self, params: Any) -> Any:
        """Create the unfitted scikit-learn estimator from validated params."""

    @property
    def feature_names(self) -> list[str]:
        """Columns, in order, that the model was trained on."""
        return list(self._features)

    def fit(self, features: pd.DataFrame, target: pd.Series) -> Self:
        """Fit a fresh estimator, so refitting never leaks earlier state."""
        estimator = self._build_estimator(self._params)
        estimator.fit(features, target)
        self._estimator = estimator
        self._features = [str(column) for column in features.columns]
        return self

    def predict(self, features: pd.DataFrame) -> npt.NDArray[Any]:
        """Predict with the trained estimator, columns reordered as in training."""
        estimator = self._fitted()
        return np.asarray(estimator.predict(features[self._features]))

    def predict_matrix(self, values: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        """Predict rows given as a matrix whose columns are :attr:`feature_names`, in order.

        The serving fast path: for one row, building a DataFrame and letting
        scikit-learn check its columns costs several times the prediction
        itself. Only for estimators that take arrays (a ``ColumnTransformer``
        that selects columns by name does not); the server checks this path
        agrees with :meth:`predict` before it uses it.
        """
        return np.asarray(self._fitted().predict(values))

    def get_params(self) -> dict[str, Any]:
        """Validated hyper-parameters including defaults."""
        return self._params.model_dump()

    def _fitted(self) -> Any:
        if self._estimator is None:
            raise ModelNotFittedError(
                f"Model {self.kind!r} must be trained with fit() before predicting."
            )
        return self._estimator

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({args})"


class SklearnClassifierStrategy(SklearnStrategy):
    """Classifier strategies also expose class probabilities."""

    task: ClassVar[Task] = "classification"

    def predict_proba(self, features: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Probability of each class, columns ordered as :attr:`classes`."""
        estimator = self._fitted()
        return np.asarray(estimator.predict_proba(features[self._features]), dtype=np.float64)

    def predict_with_proba_matrix(
        self, values: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
        """Labels and class probabilities for rows as a matrix in :attr:`feature_names` order.

        Batch scoring's fast path, used where :meth:`predict_matrix` was checked to
        agree with :meth:`predict` for this model. A pipeline's ``predict`` and
        ``predict_proba`` would each run every row through its transformers (for
        the default model, scaling is most of the time); here they run once and
        the final estimator gets what the pipeline's own methods would give it.
        """
        from sklearn.pipeline import Pipeline  # noqa: PLC0415 - loaded with the model

        estimator = self._fitted()
        if isinstance(estimator, Pipeline):
            values, estimator = estimator[:-1].transform(values), estimator[-1]
        labels = np.asarray(estimator.predict(values))
        return labels, np.asarray(estimator.predict_proba(values), dtype=np.float64)

    @property
    def classes(self) -> list[Any]:
        """Class labels seen during training."""
        return list(self._fitted().classes_)


class SklearnRegressorStrategy(SklearnStrategy):
    """Regression strategies predict one number per row."""

    task: ClassVar[Task] = "regression"
