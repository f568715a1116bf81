"""Where the training data comes from.

This module is yours: replace :func:`load_dataset` to read your own data (a
file tracked by DVC, a warehouse query, ...). The rest of the pipeline only
needs a DataFrame of numeric features plus the target column.
"""

from collections.abc import Callable
from typing import Any

import pandas as pd
from sklearn import datasets

from ..errors import ConfigError

# Datasets that ship inside scikit-learn: no network needed.
_BUNDLED: dict[str, Callable[..., Any]] = {
    "breast_cancer": datasets.load_breast_cancer,
    "diabetes": datasets.load_diabetes,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
}


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(_BUNDLED)


def load_dataset(name: str, target: str = "target") -> pd.DataFrame:
    """Load a bundled dataset as one frame: feature columns plus ``target``.

    Raises:
        ConfigError: ``name`` is not a known dataset.
    """
    try:
        loader = _BUNDLED[name]
    except KeyError:
        raise ConfigError(
            f"Unknown dataset {name!r}; data.dataset accepts: {', '.join(available_datasets())}."
        ) from None
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame.rename(columns={"target": target})
    # Column names become model signature fields: keep them identifier-like.
    frame.columns = [str(column).strip().replace(" ", "_") for column in frame.columns]
    return frame
