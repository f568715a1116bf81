"""Where the training data comes from.

This module is yours: replace :func:`load_dataset` to read your own data (a
file tracked by DVC, a warehouse query, ...). The rest of the pipeline only
needs a DataFrame of numeric features plus the target column.
"""

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

# Datasets that ship inside scikit-learn (no network needed), by the name of their
# loader in ``sklearn.datasets``. Names only, so checking params.yaml imports nothing.
_BUNDLED = {
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "iris": "load_iris",
    "wine": "load_wine",
}


def available_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return sorted(_BUNDLED)


def load_dataset(name: str, target: str = "target") -> "pd.DataFrame":
    """Load a bundled dataset as one frame: feature columns plus ``target``.

    Raises:
        ConfigError: ``name`` is not a known dataset.
    """
    from sklearn import datasets  # noqa: PLC0415 - only loading needs scikit-learn

    try:
        loader = getattr(datasets, _BUNDLED[name])
    except KeyError:
        raise ConfigError(
            f"Unknown dataset {name!r}; data.dataset accepts: {', '.join(available_datasets())}."
        ) from None
    bunch = loader(as_frame=True)
    frame: pd.DataFrame = bunch.frame.rename(columns={"target": target})
    # Column names become model signature fields: keep them identifier-like.
    frame.columns = [str(column).strip().replace(" ", "_") for column in frame.columns]
    return frame
