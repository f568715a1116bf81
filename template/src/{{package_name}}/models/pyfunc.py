"""MLflow pyfunc flavour for every strategy (the Adapter's MLflow side).

MLflow stores the trained :class:`~.adapter.ModelAdapter` as an artifact and
this wrapper as the pyfunc entry point, so ``mlflow.pyfunc.load_model`` serves
any strategy the same way, with the signature recorded at training time.
"""

from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from .adapter import MODEL_ARTIFACT, ModelAdapter


class AdapterPyfunc(PythonModel):  # type: ignore[misc]  # MLflow is treated as untyped
    """Load the joblib-serialised adapter and delegate ``predict`` to it."""

    def __init__(self) -> None:
        self._adapter: ModelAdapter | None = None

    def load_context(self, context: Any) -> None:
        """Deserialise the adapter once, when MLflow loads the model."""
        self._adapter = _load_adapter(context)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Predict through the adapter, which validates the input columns."""
        adapter = self._adapter or _load_adapter(context)
        return adapter.predict(model_input)


def _load_adapter(context: Any) -> ModelAdapter:
    adapter = joblib.load(Path(context.artifacts[MODEL_ARTIFACT]))
    if not isinstance(adapter, ModelAdapter):
        raise TypeError(f"Model artifact holds {type(adapter).__name__}, expected ModelAdapter.")
    return adapter
