"""The drift check on 1M rows x 20 features against Evidently's data-drift report, same run.

Scale-out's drift part at one size, repeated; both must flag the four shifted features.
What is timed and how to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import harness
from bench_scale_out import EVIDENTLY, M, ScaleOut
from harness import Summary


def benchmark(args: argparse.Namespace) -> None:
    args.drift_rows, args.evidently_sizes = args.rows, [args.rows]
    settings = {"repeats": args.repeats, "rows": int(args.rows * M), "features": 20}
    summary = Summary("drift", settings, {"evidently": EVIDENTLY[0]})
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        project = harness.trained_project(Path(tmp), args.project)
        drift = ScaleOut(args, project, Path(tmp), summary)
        summary.details["did not finish"] = drift.failed
        drift.drift(args.repeats, target=">= 30")
    summary.measure_all()
    harness.report(args, summary)


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, "drift", repeats=3, project=True)
    parser.add_argument("--rows", type=float, default=1, help="million rows (the target: 1)")
    harness.main(benchmark, parser)
