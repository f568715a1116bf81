"""Validated rows in, predictions out: the one path every prediction route takes."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ..errors import DataValidationError
from .bundle import ServedModel

_NUMERIC = {"double", "float", "long", "integer"}


class Predictor:
    """Turn validated request rows into the frame the adapter expects, in column order."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        self.columns = [feature.name for feature in model.features]
        # A float matrix builds a DataFrame several times faster than a list of rows,
        # which is most of the cost of a one-row request.
        self.numeric = all(feature.type in _NUMERIC for feature in model.features)

    def predict(self, rows: Sequence[BaseModel]) -> list[Any]:
        """One prediction per row, as JSON-ready Python values.

        Raises:
            DataValidationError: the model could not compute a prediction for these values.
        """
        # Pydantic keeps field values in declaration order, which is the column order.
        values = [list(row.__dict__.values()) for row in rows]
        if self.numeric:
            frame = pd.DataFrame(np.asarray(values, dtype=np.float64), columns=self.columns)
        else:
            frame = pd.DataFrame(values, columns=self.columns)
        try:
            scored = self.model.adapter.predict(frame)
        except ValueError as exc:
            # Valid numbers can still break a model (1e308 overflows a scaler to inf).
            raise DataValidationError(
                f"The model cannot score these rows: {str(exc).splitlines()[0][:200]}"
            ) from None
        predictions: list[Any] = scored["prediction"].tolist()
        return predictions
