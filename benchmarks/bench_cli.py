"""The generated CLI's read-only registry commands, ``--help`` and ``predict``, as run.

A trained project with 1.0.0 in production; each command in fresh processes, once per
round, rotated, next to references in the same rounds: ``python -c pass``, ``import
mlflow`` (what every registry command paid before the local store was read directly) and
the floor of a batch prediction (one process importing pandas, scikit-learn and joblib,
loading the model's joblib file and predicting the same 100 rows). Targets: read-only
commands within 1.2 s and ``--help`` within 0.3 s (best); ``predict`` on 100 rows within
1.5x that floor (medians). Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from functools import partial
from pathlib import Path

import harness
from harness import BenchmarkError, Samples, Summary, run

COMMANDS = {  # name: (arguments of the generated CLI, target in seconds on the best run)
    "--help": (["--help"], "<= 0.3"),
    "models list": (["models", "list"], "<= 1.2"),
    "models history": (["models", "history"], "<= 1.2"),
    "models info @champion": (["models", "info", "@champion"], "<= 1.2"),
    "models compare 1.0.0 1.0.0": (["models", "compare", "1.0.0", "1.0.0"], "<= 1.2"),
    "models gates 1.0.0": (["models", "gates", "1.0.0"], "<= 1.2"),
}
FLOOR, MLFLOW = "python -c pass", "python -c 'import mlflow'"
PREDICT, PREDICT_FLOOR = "predict 100 rows", "floor: pandas, scikit-learn, joblib; predict 100 rows"
PREDICT_TARGET = "<= 1.5"
WRITE_ROWS = """
import sys, pandas as pd
pd.read_parquet(sys.argv[1]).head(100).to_csv(sys.argv[2], index=False)
"""
FLOOR_PREDICT = """
import json, sys
import joblib, pandas as pd, sklearn
model = joblib.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
print(json.dumps({"predictions": model.predict(frame[model.feature_names])["prediction"].tolist()}))
"""


def benchmark(args: argparse.Namespace) -> None:
    samples, summary = Samples(), Summary("cli", settings={"repeats": args.repeats})
    with tempfile.TemporaryDirectory() as tmp:
        project, _ = harness.new_project(Path(tmp), promote=True)
        python = str(project / ".venv" / "bin" / "python")
        cli = str(project / ".venv" / "bin" / harness.package_name(project))
        rows, model = f"{tmp}/rows.csv", str(project / "artifacts" / "model.joblib")
        run([python, "-c", WRITE_ROWS, "data/prepared/test.parquet", rows], project, timeout=300)
        programs = {FLOOR: [python, "-c", "pass"], MLFLOW: [python, "-c", "import mlflow"]}
        programs |= {name: [cli, *arguments] for name, (arguments, _) in COMMANDS.items()}
        programs[PREDICT] = [cli, "predict", "--input", rows]
        programs[PREDICT_FLOOR] = [python, "-c", FLOOR_PREDICT, model, rows]
        last = samples.rounds(
            {name: partial(run, a, project, timeout=300) for name, a in programs.items()},
            args.repeats,
        )
    predicted = json.loads(last[PREDICT].stdout)["predictions"]
    if predicted != json.loads(last[PREDICT_FLOOR].stdout)["predictions"]:
        raise BenchmarkError(f"predict and its floor disagree: {predicted}")
    for name in programs:
        target = COMMANDS.get(name, ([], None))[1]
        judge_min = name not in {PREDICT, PREDICT_FLOOR}
        summary.measure(
            name,
            samples.wall[name],
            samples.cpu[name],
            target=target,
            judge_min=judge_min,
        )
        if judge_min and name != FLOOR:
            best = min(samples.wall[name]) / min(samples.wall[FLOOR])
            summary.ratio(f"{name} vs python", best, of=f"best {name} / best {FLOOR}")
    summary.compare(
        f"{PREDICT} vs its floor", samples, PREDICT, PREDICT_FLOOR, target=PREDICT_TARGET
    )
    harness.report(args, summary, samples)


if __name__ == "__main__":
    harness.main(benchmark, harness.argument_parser(__doc__, benchmark="cli", repeats=5))
