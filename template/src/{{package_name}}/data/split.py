"""Reproducible train/test split."""

from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from ..config import SplitConfig, Task


@dataclass(frozen=True)
class Split:
    """Features and target for training and for the held-out evaluation."""

    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split_frame(frame: pd.DataFrame, target: str, task: Task, config: SplitConfig) -> Split:
    """Split with a fixed seed; classification keeps class proportions (stratified)."""
    features = frame.drop(columns=[target])
    labels = frame[target]
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        labels,
        test_size=config.test_size,
        random_state=config.seed,
        stratify=labels if task == "classification" else None,
    )
    return Split(x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test)
