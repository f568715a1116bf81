"""``just score``: a version scores a file or a directory of Parquet files, partition by partition.

The job exports the version's verified bundle once into its staging
directory, then hands one :class:`~.task.ScoreTask` per partition to the
compute backend; each task reads, validates, predicts and writes its own
part, so this process holds a few partitions in flight at most (CSV chunks,
which only it can read) and never the predictions: its memory does not grow
with the input. The parts become the output only when every partition has
been scored (:mod:`.output`).
"""

import itertools
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..compute import ComputeError, open_backend
from ..config import Params
from ..data.partitions import partitions
from ..errors import DataValidationError
from ..paths import ProjectPaths
from ..registry.service import ModelRegistry
from .output import PART_GLOB, StagedOutput, check_destination
from .task import ScoreTask, WrittenPart, score_partition

DEFAULT_VERSION = "@champion"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringSummary:
    """A finished job, as ``just score`` prints it."""

    version: str
    output: str
    partitions: int
    rows: int
    backend: str

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dictionary."""
        return asdict(self)


def score_batch(
    params: Params,
    paths: ProjectPaths,
    source: Path,
    destination: Path,
    version: str = DEFAULT_VERSION,
    *,
    overwrite: bool = False,
) -> ScoringSummary:
    """Score ``source`` with ``version``; write partitioned Parquet to ``destination``, whole.

    Raises:
        OutputError: ``destination`` exists (without ``overwrite``) or overlaps ``source``.
        DataValidationError: the input, or one of its partitions, cannot be scored;
            the message names the partition. Nothing is written.
        ModelNotFoundError: no such version.
        ProvenanceError: the version's files fail their digests.
        ComputeError: a task failed otherwise or its workers died; nothing is written.
    """
    source, destination = source.absolute(), destination.absolute()
    check_destination(destination, source, overwrite=overwrite)
    pending = partitions(source, params.compute.partition_rows)
    # A missing or unreadable input fails here, before a model is exported or a worker started.
    first = next(pending, None)
    if first is None:
        raise DataValidationError(f"{source}: no rows to score")
    # The project's own store exports without importing MLflow (see registry.for_reading).
    registry = ModelRegistry.for_reading(paths, params)
    with StagedOutput(destination, overwrite=overwrite) as staging:
        record, bundle = registry.export(version, staging.bundle)
        tasks = (
            ScoreTask(partition, bundle, staging.parts)
            for partition in itertools.chain([first], pending)
        )
        with open_backend(params.compute) as backend:
            where = backend.describe()
            written: list[WrittenPart] = []
            for part in backend.map(score_partition, tasks, label=ScoreTask.describe):
                logger.info("%s: %d rows scored", part.partition, part.rows)
                written.append(part)
        rows = sum(part.rows for part in written)
        if not rows:
            raise DataValidationError(f"{source}: no rows to score")
        _check_parts(staging.parts, written)
        staging.publish(
            {
                "model": registry.name,
                "version": record.semver,
                "input": str(source),
                "partitions": len(written),
                "rows": rows,
                "parts": [asdict(part) for part in written],
                "backend": where,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    return ScoringSummary(record.semver, str(destination), len(written), rows, where)


def _check_parts(parts: Path, written: list[WrittenPart]) -> None:
    """Every part the tasks reported is here, and nothing else.

    Raises:
        ComputeError: the workers wrote somewhere this process cannot see.
    """
    expected = {part.file for part in written if part.file is not None}
    present = {file.name for file in parts.glob(PART_GLOB)}
    if expected != present:
        missing = sorted(expected - present)
        raise ComputeError(
            f"{len(missing)} part(s) the workers wrote are not in {parts} (e.g. "
            f"{(missing or sorted(present - expected))[0]}): the input, the output and the "
            "project must be on a filesystem every worker shares; nothing was written"
        )
