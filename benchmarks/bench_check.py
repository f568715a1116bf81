"""A fresh project to a green ``just check`` (the fast tier), warm uv cache; warm re-runs.

Each timed run starts from an empty directory after one that fills uv's cache. What is
timed and how to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import harness
from harness import Summary, Timing, run

PHASES = ("copy", "git", "install", "check")
UV_RUN = ["uv", "run", "--frozen"]
#: Importing what the project's code needs, then collecting its whole test suite (every
#: test module imported, MLflow included): in the same project, after its check.
REFERENCE = {
    "reference_import": [*UV_RUN, "python", "-c", "import sklearn, pandas, pandera"],
    "reference_collect": [*UV_RUN, "pytest", "--collect-only", "-q"],
}


def one_run(template: Path, parent: Path) -> dict[str, Timing]:
    """Fresh project to green, then the reference and a warm ``just check`` in it."""
    project, timings = harness.new_project(parent, template=template)
    timings["check"] = run(["just", "check"], project, timeout=3600)
    for name, command in REFERENCE.items():
        timings[name] = run(command, project, timeout=600)
    parts = [timings[name] for name in REFERENCE]
    timings["reference"] = Timing(sum(t.wall for t in parts), sum(t.cpu for t in parts))
    timings["warm_check"] = run(["just", "check"], project, timeout=3600)
    fresh = [timings[phase] for phase in PHASES]
    timings["fresh_to_green"] = Timing(sum(t.wall for t in fresh), sum(t.cpu for t in fresh))
    harness.log(", ".join(f"{name} {t.wall:.1f} s" for name, t in timings.items()))
    return timings


def benchmark(args: argparse.Namespace) -> None:
    versions = harness.tool_versions(("uv", "just", "git", "copier"))
    summary = Summary("check", {"repeats": args.repeats}, versions)
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        template = harness.snapshot_template(Path(tmp) / "template")
        harness.log("warm-up run (untimed): fills uv's cache")
        one_run(template, Path(tempfile.mkdtemp(dir=tmp)))
        for index in range(args.repeats):
            parent = Path(tempfile.mkdtemp(dir=tmp))
            for name, timing in one_run(template, parent).items():
                if name != "lock":  # committing uv.lock: set-up, not part of fresh to green
                    summary.add(name, timing)
            if index == args.repeats - 1:  # once, in the last run's project: what CI runs
                check_all = run(["just", "check-all"], parent / "project", timeout=3600)
                summary.add("check_all", check_all)
            shutil.rmtree(parent)
    summary.measure_all(digits=2)
    for name, limit in (("fresh_to_green", "<= 60"), ("warm_check", "<= 20")):
        summary.measure(name, digits=2, target=limit)
    summary.compare("fresh_to_green_vs_reference", "fresh_to_green", "reference", target="<= 5")
    harness.report(args, summary)


if __name__ == "__main__":
    harness.main(benchmark, harness.argument_parser(__doc__, "check", repeats=2))
