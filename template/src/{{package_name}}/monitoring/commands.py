"""``<package> drift <batch> [version]``: the drift check on the command line.

The batch may be a directory of Parquet partitions, as Spark or Dask write
one; it is counted partition by partition, never loaded whole.

One summary line and an exit status a scheduler can act on: 0 no drift
(``investigate`` too, with a warning line), 1 drift (retraining
recommended), 2 bad input or not enough data. Importing this module costs
nothing; the check loads numpy, pandas and the registry when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..commands import Handler, Subcommands
    from ..config import Params
    from ..paths import ProjectPaths

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 1
EXIT_NOT_ENOUGH_DATA = 2


def add_drift_commands(
    commands: Subcommands,
    handlers: MutableMapping[str, Handler],
) -> None:
    """Add ``drift`` to the CLI's subcommands and its handler to ``handlers``."""
    drift = commands.add_parser(
        "drift",
        help="compare a batch (CSV/Parquet file, or a directory of Parquet files) with a "
        "version's training data; record the outcome (exit 0 no drift, 1 drift, 2 bad input or "
        "not enough data)",
    )
    drift.add_argument(
        "batch",
        type=Path,
        help="CSV (with a header row) or Parquet file of rows, or a directory of Parquet files "
        "(counted partition by partition on the compute backend)",
    )
    drift.add_argument(
        "version",
        nargs="?",
        default=None,
        help="version (1.2.0) or alias (@challenger) to compare with (default: @champion)",
    )
    handlers["drift"] = _drift


def _drift(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .check import run_drift_check  # noqa: PLC0415 - numpy, pandas and MLflow load here

    outcome = run_drift_check(params, paths, args.batch, args.version)
    report = outcome.report
    where = (
        f"{outcome.model} {outcome.version}; report "
        f"{outcome.html_path.relative_to(paths.root).as_posix()}"
    )
    if outcome.metrics_warning is not None:
        print(f"warning: {outcome.metrics_warning}", file=sys.stderr)
    if outcome.recorded is None:
        print(f"error: {report.headline()}; nothing recorded on {where}", file=sys.stderr)
        return EXIT_NOT_ENOUGH_DATA
    line = f"{report.headline()}; recorded drift_check={outcome.recorded} on {where}"
    if report.verdict == "investigate":
        print(f"warning: {line}")
        return EXIT_NO_DRIFT
    print(line)
    return EXIT_DRIFT if report.verdict == "drift" else EXIT_NO_DRIFT
