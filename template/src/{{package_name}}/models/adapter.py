"""Adapter: the one serving shape every strategy is wrapped in.

Serving, batch scoring and the registry talk to :class:`ModelAdapter`, never
to a strategy directly. It pins the input contract recorded at training time
(feature names and order) and returns predictions as a DataFrame, which is
the shape MLflow's pyfunc flavour expects, so the tracking layer can wrap it
without caring which strategy is inside.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataValidationError
from .base import ModelStrategy

if TYPE_CHECKING:
    import pandas as pd

#: Name of the serialised adapter among a logged model's artifacts (``MLmodel`` lists it).
MODEL_ARTIFACT = "adapter"


class ModelAdapter:
    """Wrap a trained strategy behind a validated ``predict(DataFrame) -> DataFrame``."""

    def __init__(self, strategy: ModelStrategy, feature_names: Sequence[str]) -> None:
        if not feature_names:
            raise ValueError("feature_names must list the columns the model was trained on.")
        self.strategy = strategy
        self.feature_names = list(feature_names)

    def predict(self, model_input: "pd.DataFrame") -> "pd.DataFrame":
        """Validate the request columns, then predict one row per input row.

        Raises:
            DataValidationError: required feature columns are missing.
        """
        missing = [name for name in self.feature_names if name not in model_input.columns]
        if missing:
            raise DataValidationError(
                f"Input is missing {len(missing)} feature column(s): {', '.join(missing)}. "
                f"Expected: {', '.join(self.feature_names)}."
            )
        import pandas as pd  # noqa: PLC0415 - importing the package (`just validate`) stays light

        predictions = self.strategy.predict(model_input[self.feature_names])
        return pd.DataFrame({"prediction": predictions}, index=model_input.index)

    def describe(self) -> dict[str, Any]:
        """What is being served: strategy kind, hyper-parameters and input contract."""
        return {
            "kind": self.strategy.kind,
            "task": self.strategy.task,
            "params": self.strategy.get_params(),
            "features": self.feature_names,
        }
