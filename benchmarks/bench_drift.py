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
    run(project.probe("drift.py", "data", kind, str(folder), *shape), project.path, timeout=7200)
    return folder


def evidently_check(work: Path, python: str) -> list[str]:
    """Evidently in a venv of its own (it needs ``pandas<3``); the command of its probe."""
    venv = work / "evidently"
    run(["uv", "venv", "--quiet", "--python", python, str(venv)], work, timeout=600)
    install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run([*install, *EVIDENTLY], work, timeout=1800)
    return [str(venv / "bin" / "python"), str(PROBES / "evidently_check.py")]


def benchmark(args: argparse.Namespace) -> None:
    samples, rows = Samples(), int(args.rows * M)
    summary = Summary("drift", settings={"repeats": args.repeats, "rows": rows, "features": 20})
    summary.versions = {"evidently": EVIDENTLY[0]}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = harness.trained_project(work)
        reference, current, own = (
            str(generate(kind, work / kind, rows, 1, project) / "part-00000.parquet")
            for kind in ("reference", "current", "own")
        )
        package, profile = project.package, f"{tmp}/profile.json"
        build = project.probe("drift.py", "profile", package, reference, profile)
        samples.add("profile (train stage)", run(build, project.path, timeout=600))
        evidently = evidently_check(work, project.bin("python"))
        checks = {
            "drift check": project.probe("drift.py", "check", package, profile, current, tmp),
            "evidently": [*evidently, reference, current, f"{tmp}/evidently.html"],
        }
        measures = {name: partial(run, c, project.path, timeout=3600) for name, c in checks.items()}
        last = samples.rounds(measures, args.repeats)
        for _ in range(args.repeats):  # `drift` exits 1 when it finds drift
            drift = [project.bin(project.package), "drift", own]
            samples.add("drift command, 1M rows x 30 own features",
                        run(drift, project.path, timeout=3600, ok=(0, 1)))  # fmt: skip
    outcomes = {name: last_json(timing.stdout) for name, timing in last.items()}
    drifted = {name: outcome["drifted"] for name, outcome in outcomes.items()}
    same = all(flagged == SHIFTED for flagged in drifted.values())
    scores = {name: {f: found["scores"][f] for f in SHIFTED} for name, found in outcomes.items()}
    summary.details = {"shifted": SHIFTED, "drifted": drifted, "same_verdicts": same}
    summary.details["shifted_scores"] = scores
    summary.measure_all(samples)
    summary.compare("evidently / drift check", samples, "evidently", "drift check", target=">= 30")
    harness.report(args, summary, samples)
    if not same:
        raise BenchmarkError(f"verdicts differ: shifted {SHIFTED}, flagged {drifted}")


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, "drift", repeats=3)
    parser.add_argument("--rows", type=float, default=1, help="million rows (the target: 1)")
    harness.main(benchmark, parser)
