"""``just pipeline --force`` against the floor of importing its libraries and fitting.

The floor runs right before and after each pipeline. What is timed and how to read it:
benchmarks/README.md; results, one per scenario: docs/pipeline-performance.md.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import harness
from harness import PROBES, BenchmarkError, Summary, Timing, last_json, median, run

TARGET = 2.5
FLOOR = ["uv", "run", "--frozen", "python", str(PROBES / "pipeline_floor.py")]
VERSIONS = """import json, platform
from importlib.metadata import version
names = ["mlflow", "scikit-learn", "pandas", "pandera", "pyarrow", "dvc"]
print(json.dumps({"python": platform.python_version(), **{n: version(n) for n in names}}))
"""
HYPER_PARAMETER = re.compile(r"^(    (?:C|alpha): )(1\.0|0\.5)$", re.MULTILINE)


def toggle_hyper_parameter(params: Path) -> None:
    """Flip the default model's regularisation (C or alpha) between 1.0 and 0.5."""
    swap = {"1.0": "0.5", "0.5": "1.0"}
    text, found = HYPER_PARAMETER.subn(
        lambda m: m[1] + swap[m[2]], params.read_text(encoding="utf-8"), count=1
    )
    if not found:
        raise BenchmarkError(f"{params} has no C or alpha of 1.0 or 0.5 to change")
    params.write_text(text, encoding="utf-8")


def one_repeat(project: Path, summary: Summary) -> tuple[float, ...]:
    """The pipeline between two floors, then a parameters-only run; the pipeline's wall and
    CPU and the parameters-only run's wall over the mean of the two floors."""

    def measure(name: str, args: list[str]) -> Timing:
        return summary.add(name, run(args, project, timeout=1800))

    before = measure("floor", FLOOR)
    pipeline = measure("pipeline", ["just", "pipeline", "--force"])
    after = measure("floor", FLOOR)
    floor_wall, floor_cpu = (before.wall + after.wall) / 2, (before.cpu + after.cpu) / 2
    toggle_hyper_parameter(project / "params.yaml")
    changed = measure("params_change", ["just", "pipeline"])
    if "Running stage 'prepare'" in changed.stdout or "Running stage 'train'" not in changed.stdout:
        raise BenchmarkError("a hyper-parameter change did not rerun exactly train onwards")
    harness.log(f"pipeline {pipeline.wall:.1f} s, floors {before.wall:.1f} s, {after.wall:.1f} s")
    return pipeline.wall / floor_wall, pipeline.cpu / floor_cpu, changed.wall / floor_wall


def benchmark(args: argparse.Namespace) -> None:
    head = run(["git", "rev-parse", args.vcs_ref or "HEAD"], harness.TEMPLATE_ROOT, timeout=60)
    commit = head.stdout.strip()
    summary = Summary("pipeline", settings={
        "problem_type": args.problem_type, "template_commit": commit,
        "template_working_tree_included": args.vcs_ref == "HEAD", "repeats": args.repeats,
    })  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        harness.log(f"a {args.problem_type} project from template {args.vcs_ref or commit}")
        data = {"problem_type": args.problem_type}
        project, _ = harness.new_project(Path(tmp), data=data, vcs_ref=args.vcs_ref or commit)
        run(["just", "pipeline"], project, timeout=1800)  # warm-up, untimed
        run(FLOOR, project, timeout=600)
        python = ["uv", "run", "--frozen", "python", "-c", VERSIONS]
        versions = last_json(run(python, project, timeout=600).stdout)
        summary.versions = versions | harness.tool_versions(("uv", "just"), project)
        ratios = [one_repeat(project, summary) for _ in range(args.repeats)]
    summary.measure_all()
    wall, cpu, params = (list(column) for column in zip(*ratios, strict=True))
    floor = median(summary.wall["floor"])
    summary.ratio(
        "pipeline_over_floor", median(wall), target=f"<= {TARGET}", digits=2, per_repeat=wall,
        of="pipeline / mean of the floors right before and after it, per repeat; median",
        cpu_median=median(cpu), cpu_per_repeat=cpu,
        of_medians=median(summary.wall["pipeline"]) / floor, budget_s=TARGET * floor,
    )  # fmt: skip
    of = "params_change / mean of the same repeat's floors; median"
    summary.ratio("params_change_over_floor", median(params), of=of, target="<= 2")
    harness.report(args, summary, scenario=args.problem_type)


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, "pipeline", repeats=3)
    problems = ["classification", "regression"]
    parser.add_argument("--problem-type", choices=problems, default="classification")
    text = "template commit to render (default: the last; HEAD: with the working tree)"
    parser.add_argument("--vcs-ref", help=text)
    harness.main(benchmark, parser)
