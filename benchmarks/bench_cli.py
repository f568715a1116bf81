"""Start-up of the generated CLI's read-only registry commands and ``predict``, as run.

Generates a default project, installs it, runs its pipeline once and promotes
the version, then times each command in fresh processes (``--repeats`` rounds,
the commands in a rotated order each round) next to references measured in the
same run: the project's interpreter doing nothing (``python -c pass``),
importing MLflow (what every registry command paid before the local store was
read directly), and the floor of a batch prediction: one process importing
pandas, scikit-learn and joblib, loading the model's joblib file and predicting
the same 100 rows. Targets: read-only commands within 1.2 s (best), ``--help``
within 0.3 s (best), ``predict`` on 100 rows within 1.5x that floor (medians).

Run it with ``uv run --frozen python benchmarks/bench_cli.py [--repeats 5]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness import (
    BenchmarkError,
    Samples,
    Summary,
    argument_parser,
    command_env,
    median,
    package_name,
    promoted_project,
    report,
    rotated,
    run,
)

COMMANDS = {
    "--help": ["--help"],
    "models list": ["models", "list"],
    "models history": ["models", "history"],
    "models info @champion": ["models", "info", "@champion"],
    "models compare 1.0.0 1.0.0": ["models", "compare", "1.0.0", "1.0.0"],
    "models gates 1.0.0": ["models", "gates", "1.0.0"],
}
REFERENCES = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import mlflow'": ["-c", "import mlflow"],
}
FLOOR = "python -c pass"
TARGETS = {"--help": 0.3}
READ_TARGET = 1.2
PREDICT = "predict 100 rows"
PREDICT_FLOOR = "floor: pandas, scikit-learn, joblib; predict 100 rows"
PREDICT_TARGET = 1.5
# Run by the project's interpreter: the rows to predict, then the floor's one process.
WRITE_ROWS = """
import sys, pandas as pd
pd.read_parquet(sys.argv[1]).head(100).to_csv(sys.argv[2], index=False)
"""
FLOOR_PREDICT = """
import json, sys
import joblib, pandas as pd, sklearn
model = joblib.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
print(json.dumps(model.predict(frame[model.feature_names])["prediction"].tolist()))
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Time every command and reference; print and write the summary."""
    parser = argument_parser(
        __doc__, benchmark="cli", repeats=5, repeats_help="rounds, each command once per round"
    )
    args = parser.parse_args(argv)
    env = command_env()
    samples = Samples()
    summary = Summary("cli", settings={"repeats": args.repeats})
    with tempfile.TemporaryDirectory() as tmp:
        project = promoted_project(Path(tmp), env)
        venv_bin = project / ".venv" / "bin"
        python, cli = str(venv_bin / "python"), str(venv_bin / package_name(project))
        rows = str(Path(tmp) / "rows.csv")
        test_split = str(project / "data" / "prepared" / "test.parquet")
        run([python, "-c", WRITE_ROWS, test_split, rows], project, env, timeout=300)
        programs = {name: [python, *a] for name, a in REFERENCES.items()}
        programs |= {name: [cli, *a] for name, a in COMMANDS.items()}
        programs[PREDICT] = [cli, "predict", "--input", rows]
        model = str(project / "artifacts" / "model.joblib")
        programs[PREDICT_FLOOR] = [python, "-c", FLOOR_PREDICT, model, rows]
        answers: dict[str, str] = {}
        for round_ in range(args.repeats):
            for name in rotated(list(programs), round_):
                timing = run(programs[name], project, env, timeout=300)
                samples.add(name, timing)
                answers[name] = timing.stdout
    predicted = json.loads(answers[PREDICT])["predictions"]
    if predicted != json.loads(answers[PREDICT_FLOOR]):
        raise BenchmarkError(f"predict and its floor disagree: {predicted}")
    floor = min(samples.wall[FLOOR])
    for name in programs:
        target = TARGETS.get(name, READ_TARGET if name in COMMANDS else None)
        judge_min = name not in {PREDICT, PREDICT_FLOOR}
        summary.measure(
            name, samples.wall[name], samples.cpu[name], at_most=target, judge_min=judge_min
        )
        if judge_min and name != FLOOR:
            best = min(samples.wall[name])
            summary.ratio(f"{name} vs python", best / floor, of=f"best {name} / best {FLOOR}")
    wall, floor_wall = samples.wall[PREDICT], samples.wall[PREDICT_FLOOR]
    summary.ratio(
        f"{PREDICT} vs its floor",
        median(wall) / median(floor_wall),
        of=f"median {PREDICT} / median {PREDICT_FLOOR} (interleaved)",
        at_most=PREDICT_TARGET,
        paired=median(a / b for a, b in zip(wall, floor_wall, strict=True)),
        min=min(wall) / min(floor_wall),
    )
    report(args, summary, samples)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
