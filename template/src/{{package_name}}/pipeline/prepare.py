"""``prepare`` stage: load, validate and split the data into train/test files."""

import logging

import pandas as pd

from ..config import Params
from ..data.loader import load_dataset
from ..data.schema import validate_training_frame
from ..data.split import split_frame
from ..errors import ConfigError
from ..paths import ProjectPaths
from .io import write_atomically

logger = logging.getLogger(__name__)


def prepare(params: Params, paths: ProjectPaths) -> dict[str, int]:
    """Write the validated split to ``data/prepared``; return the row counts."""
    target = params.data.target
    frame = load_dataset(params.data.dataset, target)
    frame = validate_training_frame(frame, target, params.task, params.data.min_rows)
    split = split_frame(frame, target, params.task, params.split)
    _write_parquet(split.x_train.assign(**{target: split.y_train}), paths, "train")
    _write_parquet(split.x_test.assign(**{target: split.y_test}), paths, "test")
    counts = {"train_rows": len(split.x_train), "test_rows": len(split.x_test)}
    logger.info("Prepared %(train_rows)d training and %(test_rows)d test rows", counts)
    return counts


def _write_parquet(frame: pd.DataFrame, paths: ProjectPaths, part: str) -> None:
    target = paths.train_data if part == "train" else paths.test_data
    write_atomically(target, lambda tmp: frame.reset_index(drop=True).to_parquet(tmp, index=False))


def load_prepared(params: Params, paths: ProjectPaths, part: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read a prepared split back, re-validated, as (features, target)."""
    source = paths.train_data if part == "train" else paths.test_data
    if not source.is_file():
        raise ConfigError(f"{source} is missing; run `just prepare` (or `just pipeline`) first.")
    frame = validate_training_frame(pd.read_parquet(source), params.data.target, params.task, 1)
    return frame.drop(columns=[params.data.target]), frame[params.data.target]
