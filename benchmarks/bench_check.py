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
from harness import Samples, Summary, Timing, run

PHASES = ("copy", "git", "install", "check")
REFERENCE = ["uv", "run", "--frozen", "python", "-c", "import sklearn, pandas, pandera"]


def just(recipe: str, project: Path, env: dict[str, str]) -> Timing:
    return run(["just", recipe], project, env, timeout=3600, merge_stderr=True)


def one_run(template: Path, parent: Path, env: dict[str, str]) -> dict[str, Timing]:
    """Fresh project to green, then the reference and a warm ``just check`` in it."""
    project, timings = harness.new_project(parent, env, template=template)
    timings["check"] = just("check", project, env)
    timings["reference"] = run(REFERENCE, project, env, timeout=600)
    timings["warm_check"] = just("check", project, env)
    fresh = [timings[phase] for phase in PHASES]
    timings["fresh_to_green"] = Timing(sum(t.wall for t in fresh), sum(t.cpu for t in fresh))
    harness.log(", ".join(f"{name} {t.wall:.1f} s" for name, t in timings.items()))
    return timings


def benchmark(args: argparse.Namespace) -> None:
    env = harness.command_env(bytecode_cache=not args.no_bytecode_cache)
    samples = Samples()
    settings = {"repeats": args.repeats, "bytecode_cache": not args.no_bytecode_cache}
    summary = Summary("check", settings, harness.tool_versions(("uv", "just", "git", "copier")))
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        template = harness.snapshot_template(Path(tmp) / "template")
        harness.log("warm-up run (untimed): fills uv's cache")
        one_run(template, Path(tempfile.mkdtemp(dir=tmp)), env)
        for index in range(args.repeats):
            parent = Path(tempfile.mkdtemp(dir=tmp))
            for name, timing in one_run(template, parent, env).items():
                if name != "lock":  # committing uv.lock: set-up, not part of fresh to green
                    samples.add(name, timing)
            if index == args.repeats - 1:  # once, in the last run's project: what CI runs
                samples.add("check_all", just("check-all", parent / "project", env))
            shutil.rmtree(parent)
    summary.measure_all(samples, digits=2)
    for name, limit in (("fresh_to_green", "<= 60"), ("warm_check", "<= 20")):
        summary.measure(name, samples.wall[name], samples.cpu[name], digits=2, target=limit)
    summary.compare("fresh_to_green_vs_reference", samples, "fresh_to_green", "reference",
                    target="<= 5")  # fmt: skip
    harness.report(args, summary)


if __name__ == "__main__":
    harness.main(benchmark, harness.argument_parser(__doc__, "check", repeats=2, bytecode=True))
