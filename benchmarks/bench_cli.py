"""The generated CLI's read-only registry commands, ``--help`` and ``predict``, as run.

Fresh processes, interleaved; ``predict`` against its floor. What is timed and how to read
it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from functools import partial
from pathlib import Path

import harness
from harness import PROBES, BenchmarkError, Summary, run

COMMANDS = {  # name: (arguments of the generated CLI, target in seconds on the best run)
    "--help": (["--help"], "<= 0.3"),
    "models list": (["models", "list"], "<= 1.2"),
    "models history": (["models", "history"], "<= 1.2"),
    "models info @champion": (["models", "info", "@champion"], "<= 1.2"),
    "models compare 1.0.0 1.0.0": (["models", "compare", "1.0.0", "1.0.0"], "<= 1.2"),
    "models gates 1.0.0": (["models", "gates", "1.0.0"], "<= 1.2"),
}
PREDICT, PREDICT_FLOOR = "predict 100 rows", "floor: pandas, scikit-learn, joblib; predict 100 rows"
ROWS = "import sys, pandas; pandas.read_parquet(sys.argv[1])[:100].to_csv(sys.argv[2], index=False)"


def benchmark(args: argparse.Namespace) -> None:
    summary = Summary("cli", settings={"repeats": args.repeats})
    with tempfile.TemporaryDirectory() as tmp:
        project = harness.trained_project(Path(tmp), args.project)
        python, cli, rows = project.bin("python"), project.bin(project.package), f"{tmp}/rows.csv"
        model = str(project.path / "artifacts" / "model.joblib")
        run([python, "-c", ROWS, "data/prepared/test.parquet", rows], project.path, timeout=300)
        programs = {name: [cli, *arguments] for name, (arguments, _) in COMMANDS.items()}
        programs[PREDICT] = [cli, "predict", "--input", rows]
        programs[PREDICT_FLOOR] = [python, str(PROBES / "predict_floor.py"), model, rows]
        timed = partial(run, cwd=project.path, timeout=300)
        done = summary.rounds({n: partial(timed, c) for n, c in programs.items()}, args.repeats)
    predicted = json.loads(done[PREDICT][-1].stdout)["predictions"]
    if predicted != json.loads(done[PREDICT_FLOOR][-1].stdout)["predictions"]:
        raise BenchmarkError(f"predict and its floor disagree: {predicted}")
    for name in programs:  # start-up times (every command but predict's) judged on the best run
        summary.measure(name, target=COMMANDS.get(name, ([], None))[1], judge_min=name in COMMANDS)
    summary.compare(f"{PREDICT} vs its floor", PREDICT, PREDICT_FLOOR, target="<= 1.5")
    harness.report(args, summary)


if __name__ == "__main__":
    harness.main(benchmark, harness.argument_parser(__doc__, "cli", repeats=5, project=True))
