"""The drift check on 1M rows x 20 features against Evidently's data-drift report, same run.

Both must flag the four shifted features. What is timed and how to read it:
benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import harness
from harness import PROBES, BenchmarkError, Project, Samples, Summary, last_json, run

M, SHIFTED = 1_000_000, ["f00", "f01", "f02", "f03"]
EVIDENTLY = ["evidently==0.7.23", "pandas<3", "pyarrow"]


def generate(kind: str, folder: Path, file_rows: int, files: int, project: Project) -> Path:
    """``files`` Parquet files of ``file_rows`` rows of ``kind`` (250k-row groups)."""
    shape = [str(file_rows), str(files), str(min(file_rows, 250_000))]
    command = [project.bin("python"), str(PROBES / "drift_data.py"), kind, str(folder), *shape]
    run(command, project.path, timeout=7200)
    return folder


def evidently_python(work: Path, python: str) -> str:
    """Evidently in a venv of its own (it needs ``pandas<3``); its interpreter."""
    venv = work / "evidently"
    run(["uv", "venv", "--quiet", "--python", python, str(venv)], work, timeout=600)
    install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run([*install, *EVIDENTLY], work, timeout=1800)
    return str(venv / "bin" / "python")


def benchmark(args: argparse.Namespace) -> None:
    samples, rows = Samples(), int(args.rows * M)
    summary = Summary("drift", settings={"repeats": args.repeats, "rows": rows, "features": 20})
    summary.versions = {"evidently": EVIDENTLY[0]}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = harness.trained_project(work)
        python, package, profile = project.bin("python"), project.package, f"{tmp}/profile.json"
        reference, current, own = (
            str(generate(kind, work / kind, rows, 1, project) / "part-00000.parquet")
            for kind in ("reference", "current", "own")
        )
        build = [python, str(PROBES / "drift_profile.py"), package, reference, profile]
        samples.add("profile (train stage)", run(build, project.path, timeout=600))
        checks = {
            "drift check": [python, str(PROBES / "drift_check.py"), package, profile, current, tmp],
            "evidently": [evidently_python(work, python), str(PROBES / "evidently_check.py"),
                          reference, current, f"{tmp}/evidently.html"],
        }  # fmt: skip
        measures = {name: partial(run, c, work, timeout=3600) for name, c in checks.items()}
        last = samples.rounds(measures, args.repeats)
        for _ in range(args.repeats):  # `drift` exits 1 when it finds drift
            drift = run([project.bin(package), "drift", own], project.path, timeout=3600, ok=(0, 1))
            samples.add("drift command, 1M rows x 30 own features", drift)
    outcomes = {name: last_json(timing.stdout) for name, timing in last.items()}
    drifted = {name: outcome["drifted"] for name, outcome in outcomes.items()}
    same = all(flagged == SHIFTED for flagged in drifted.values())
    scores = {
        name: {f: outcome["scores"][f] for f in SHIFTED} for name, outcome in outcomes.items()
    }
    summary.details = {"shifted": SHIFTED, "drifted": drifted, "same_verdicts": same}
    summary.details["shifted_scores"] = scores
    summary.measure_all(samples)
    summary.compare("evidently / drift check", samples, "evidently", "drift check", target=">= 30")
    harness.report(args, summary, samples)
    if not same:
        raise BenchmarkError(f"verdicts differ: shifted {SHIFTED}, flagged {drifted}")


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, benchmark="drift", repeats=3)
    parser.add_argument("--rows", type=float, default=1, help="million rows (the target: 1)")
    harness.main(benchmark, parser)
