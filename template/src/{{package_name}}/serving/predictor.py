"""Validated rows in, predictions out: the one path every prediction route takes."""

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel

from ..errors import DataValidationError
from .bundle import ServedModel

_NUMERIC = {"double", "float", "long", "integer"}
_NO_FEATURE_NAMES = "X does not have valid feature names"
MatrixPredict = Callable[[npt.NDArray[np.float64]], npt.NDArray[Any]]


class Predictor:
    """Turn validated request rows into what the model takes, in training column order.

    All-numeric models are given a float matrix directly when the strategy
    supports it and, checked once at start-up on the training input example,
    it predicts exactly what the DataFrame path does: for one row that skips
    most of the request's cost (building a DataFrame, and scikit-learn
    checking its columns). Every other model gets a DataFrame.
    """

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        self.columns = pd.Index([feature.name for feature in model.features])
        self.numeric = all(feature.type in _NUMERIC for feature in model.features)
        self.matrix_predict = self._checked_matrix_path()

    def predict(self, rows: Sequence[BaseModel]) -> list[Any]:
        """One prediction per validated row, as JSON-ready Python values.

        Raises:
            DataValidationError: the model could not compute a prediction for these values.
        """
        return self.predict_batch(self.batch(rows))

    def batch(self, rows: Sequence[BaseModel]) -> npt.NDArray[np.float64] | pd.DataFrame:
        """Validated rows as what :meth:`predict_array` takes: a float matrix, or a DataFrame."""
        # Pydantic keeps field values in declaration order, which is the column order.
        values = [list(row.__dict__.values()) for row in rows]
        if self.numeric:
            return np.asarray(values, dtype=np.float64)
        return pd.DataFrame(values, columns=self.columns)

    def predict_batch(
        self, batch: npt.NDArray[np.float64] | dict[str, Any] | pd.DataFrame
    ) -> list[Any]:
        """One prediction per row, as JSON-ready Python values (see :meth:`predict_array`).

        Raises:
            DataValidationError: as :meth:`predict_array`.
        """
        result: list[Any] = self.predict_array(batch).tolist()
        return result

    def predict_array(
        self, batch: npt.NDArray[np.float64] | dict[str, Any] | pd.DataFrame
    ) -> npt.NDArray[Any]:
        """One prediction per row of rows already converted to the signature's types.

        ``batch`` is a float matrix in training column order (numeric models), or one
        array per column, or a DataFrame. Batch scoring keeps the array (a Parquet
        column); a response turns it into Python values.

        Raises:
            DataValidationError: the model could not compute a prediction for these values,
                or computed one that is not a finite number.
        """
        try:
            if isinstance(batch, np.ndarray) and self.matrix_predict is not None:
                predictions = self.matrix_predict(batch)
            elif isinstance(batch, np.ndarray):
                predictions = self._adapter_predict(pd.DataFrame(batch, columns=self.columns))
            elif isinstance(batch, pd.DataFrame):
                predictions = self._adapter_predict(batch)
            else:
                predictions = self._adapter_predict(pd.DataFrame(batch, columns=self.columns))
        except (ValueError, TypeError) as exc:
            # Valid numbers can still break a model (1e308 overflows a scaler to inf).
            raise DataValidationError(
                f"The model cannot score these rows: {str(exc).splitlines()[0][:200]}"
            ) from None
        if np.issubdtype(predictions.dtype, np.floating) and not np.isfinite(predictions).all():
            raise DataValidationError(
                "The model computed a prediction that is not a finite number."
            )
        return predictions

    def _adapter_predict(self, frame: pd.DataFrame) -> npt.NDArray[Any]:
        return np.asarray(self.model.adapter.predict(frame)["prediction"])

    def _frame_predict(self, values: list[list[Any]]) -> npt.NDArray[Any]:
        frame = pd.DataFrame(np.asarray(values, dtype=np.float64), columns=self.columns)
        return self._adapter_predict(frame)

    def _checked_matrix_path(self) -> MatrixPredict | None:
        adapter = self.model.adapter
        matrix_predict: MatrixPredict | None = getattr(adapter.strategy, "predict_matrix", None)
        example = self.model.example
        in_order = list(self.columns) == adapter.feature_names
        if matrix_predict is None or not (self.numeric and in_order and example):
            return None
        values = [[row[name] for name in self.columns] for row in example]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NO_FEATURE_NAMES)
            try:
                fast = matrix_predict(np.asarray(values, dtype=np.float64))
            except (ValueError, TypeError, KeyError):
                return None
        if not _same_predictions(fast, self._frame_predict(values)):
            return None
        # scikit-learn would warn on every request that an array has no column names; the
        # columns are in training order (checked above), so the warning says nothing here.
        warnings.filterwarnings("ignore", message=_NO_FEATURE_NAMES)
        return matrix_predict


def _same_predictions(first: npt.NDArray[Any], second: npt.NDArray[Any]) -> bool:
    """Equal labels; numbers equal to within rounding (memory layout changes the last bit)."""
    if first.shape != second.shape:
        return False
    if np.issubdtype(first.dtype, np.floating) and np.issubdtype(second.dtype, np.floating):
        return bool(np.allclose(first, second, rtol=1e-9, atol=0.0))
    return bool(np.array_equal(first, second))
