"""Score one partition where it runs: read it, validate it, predict, write its part.

:func:`score_partition` runs on a local worker process or a Dask worker. It
reads its own rows (a Parquet partition is only a file name and row groups
until then), opens the job's verified bundle once per worker process, and
writes ``part-<index>.parquet`` into the job's staging directory; only the
part's name and row count travel back. Every problem with the rows becomes one
:class:`~..errors.DataValidationError` that starts with the partition's name.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..compute import ComputeError
from ..data.partitions import Partition
from ..errors import DataValidationError
from ..models.base import SklearnClassifierStrategy
from ..serving.bundle import open_bundle
from ..serving.predictor import Predictor

#: Output columns besides the predictions: the input's row identity and the model's version.
SOURCE, ROW, PREDICTION, MODEL_VERSION = "source", "row", "prediction", "model_version"
PROBABILITY_PREFIX = "probability_"

# One model per worker process, loaded by the first of the job's tasks it runs. A Dask
# worker outlives the job, so opening another bundle drops the previous one.
_loaded: dict[Path, Predictor] = {}
_loading = threading.Lock()


@dataclass(frozen=True)
class ScoreTask:
    """Score ``partition`` with the bundle at ``bundle``; write the part into ``parts``."""

    partition: Partition
    bundle: Path
    parts: Path

    def describe(self) -> str:
        """How a failure names the task: the partition."""
        return self.partition.describe()

    @property
    def part_name(self) -> str:
        """The part's file name, ordered as the input's partitions."""
        return f"part-{self.partition.index:05d}.parquet"


@dataclass(frozen=True)
class WrittenPart:
    """What a task hands back: which part it wrote, from which partition, how many rows."""

    #: The part's file name; ``None`` for a partition with no rows (nothing written).
    file: str | None
    partition: str
    rows: int


def score_partition(task: ScoreTask) -> WrittenPart:
    """Score ``task``'s partition and write its part.

    A partition with no rows but the right columns writes nothing.

    Raises:
        DataValidationError: the partition is unreadable, lacks a feature, or holds a
            value the model cannot take; the message starts with the partition's name.
        ComputeError: this worker cannot see the job's staging directory.
    """
    if not task.parts.is_dir():
        raise ComputeError(
            f"{task.describe()}: the worker cannot see {task.parts}; the input, the output "
            "and the project must be on a filesystem every worker shares"
        )
    predictor = _predictor(task.bundle)
    partition = task.partition
    try:
        matrix = partition.feature_matrix([feature.name for feature in predictor.model.features])
        if not len(matrix):  # an empty partition (Spark writes them) scores as no rows
            return WrittenPart(None, partition.describe(), 0)
        table = _scored_table(predictor, matrix, partition)
    except DataValidationError as exc:
        raise DataValidationError(_named(partition, exc)) from None
    _write(table, task.parts, task.part_name)
    return WrittenPart(task.part_name, partition.describe(), table.num_rows)


def _scored_table(
    predictor: Predictor, matrix: npt.NDArray[np.float64], partition: Partition
) -> pa.Table:
    """The part's columns: row identity, prediction(s) and model version.

    scikit-learn still checks every step's input for infinities although the
    matrix was checked: a finite value can overflow to one inside the model
    (1e308 through a scaler), and that must fail the partition, not score it.

    Raises:
        DataValidationError: the model cannot score the rows.
    """
    count = len(matrix)
    predictions, probabilities = _predictions(predictor, matrix)
    columns: dict[str, Any] = {
        SOURCE: _constant(partition.name, count),
        ROW: pa.array(np.arange(partition.first_row, partition.first_row + count)),
        PREDICTION: pa.array(predictions),
    }
    columns |= probabilities
    columns[MODEL_VERSION] = _constant(predictor.model.semver, count)
    return pa.table(columns)


def _constant(text: str, count: int) -> pa.DictionaryArray:
    """A column holding one string: dictionary-encoded, as Parquet stores it anyway."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, dtype=np.int32)), [text])


def _predictions(
    predictor: Predictor, matrix: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[Any], dict[str, pa.Array]]:
    """The predictions, and a classifier's ``probability_<class>`` column per class.

    Where the predictor checked that the matrix path agrees with the DataFrame
    one (training column order), a classifier gives both from one pass;
    otherwise the probabilities come from a DataFrame.

    Raises:
        DataValidationError: the model cannot score the rows.
    """
    adapter = predictor.model.adapter
    strategy = adapter.strategy
    # An overflow inside the model fails below, in one line, not as a NumPy warning.
    with np.errstate(over="ignore", invalid="ignore"):
        if not isinstance(strategy, SklearnClassifierStrategy):
            return predictor.predict_array(matrix), {}
        try:
            if predictor.matrix_predict is not None:
                predictions, probabilities = strategy.predict_with_proba_matrix(matrix)
            else:
                predictions = predictor.predict_array(matrix)
                frame = pd.DataFrame(matrix, columns=predictor.columns)
                probabilities = strategy.predict_proba(frame[adapter.feature_names])
        except (ValueError, TypeError) as exc:
            raise DataValidationError(
                f"The model cannot score these rows: {str(exc).splitlines()[0][:200]}"
            ) from None
    if not np.isfinite(probabilities).all():
        raise DataValidationError(
            "The model computed a class probability that is not a finite number."
        )
    return predictions, {
        f"{PROBABILITY_PREFIX}{label}": pa.array(probabilities[:, column])
        for column, label in enumerate(strategy.classes)
    }


def _predictor(bundle: Path) -> Predictor:
    """The bundle's model, opened (and verified) by the first task this process runs."""
    with _loading:
        predictor = _loaded.get(bundle)
        if predictor is None:
            _loaded.clear()
            predictor = _loaded[bundle] = Predictor(open_bundle(bundle))
        return predictor


def _write(table: pa.Table, parts: Path, name: str) -> None:
    """Write the part under a hidden name and rename it: a killed task leaves no half part.

    A rerun of the task (Dask reruns a killed worker's tasks) replaces the part whole.
    The file is opened exclusively, never creating directories: a task still running
    after its job was cancelled fails here instead of recreating the staging directory.
    """
    staged = parts / f".{name}.{uuid.uuid4().hex}"
    try:
        with staged.open("xb") as handle:
            # Dictionaries for the one-string columns only: numbers rarely repeat, and
            # trying a dictionary first doubles the time it takes to write them.
            pq.write_table(table, handle, use_dictionary=[SOURCE, MODEL_VERSION])
        staged.replace(parts / name)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def _named(partition: Partition, exc: DataValidationError) -> str:
    """The error's message, starting with the partition's name."""
    message = str(exc)
    name = partition.describe()
    return message if message.startswith(name) else f"{name}: {message}"
