"""``<package> score <input> <output> [version]``: batch scoring on the command line.

One JSON line on success (version, output, partitions, rows, where the tasks
ran); one ``error:`` line and no output otherwise. Importing this module
costs nothing; the job loads pandas, pyarrow and the registry when it runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..commands import Handler, Subcommands
    from ..config import Params
    from ..paths import ProjectPaths


def add_score_commands(commands: Subcommands, handlers: MutableMapping[str, Handler]) -> None:
    """Add ``score`` to the CLI's subcommands and its handler to ``handlers``."""
    score = commands.add_parser(
        "score",
        help="score a CSV/Parquet file or a directory of Parquet files with a version, "
        "partition by partition on the compute backend; write partitioned Parquet",
    )
    score.add_argument(
        "input", type=Path, help="CSV or Parquet file, or a directory of Parquet files"
    )
    score.add_argument(
        "output",
        type=Path,
        help="directory to write (part-*.parquet and _manifest.json); it appears whole or not",
    )
    score.add_argument(
        "version",
        nargs="?",
        default="@champion",
        help="version (1.2.0) or alias (@challenger) to score with (default: @champion)",
    )
    score.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier scoring output at OUTPUT (once the new one is complete)",
    )
    handlers["score"] = _score


def _score(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from ..compute import warm_up  # noqa: PLC0415

    warm_up(params.compute, f"{__package__}.task")  # the workers load while this process does
    from .batch import score_batch  # noqa: PLC0415 - pandas, pyarrow and MLflow load here

    summary = score_batch(
        params, paths, args.input, args.output, args.version, overwrite=args.overwrite
    )
    print(json.dumps(summary.as_dict()))
    return 0
