"""A fresh project to a green ``just check`` (the fast tier), warm uv cache; warm re-runs.

Each timed run starts from an empty directory after one that fills uv's cache. What is
timed and how to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

import harness
from harness import Samples, Summary, Timing, median, run

PHASES = ("copy", "git", "install", "check")
REFERENCE = ["uv", "run", "--frozen", "python", "-c", "import sklearn, pandas, pandera"]
DURATIONS = 15
_TEST = re.compile(r"^\s*([\d.]+)s\s+(call|setup|teardown)\s+(\S+)", re.MULTILINE)
_SESSION = re.compile(r"^=+ .*\bin ([\d.]+)s\b.*=+$", re.MULTILINE)
_HOOK = re.compile(r"^- hook id: (\S+)\n(?:- .*\n)*?- duration: ([\d.]+)s", re.MULTILINE)


def just(recipe: str, project: Path, env: dict[str, str]) -> Timing:
    return run(["just", recipe], project, env, timeout=3600, merge_stderr=True)


def one_run(template: Path, parent: Path, env: dict[str, str], samples: Samples | None) -> None:
    """Fresh project to green, then the reference and a warm ``just check`` in it."""
    project, timings = harness.new_project(parent, env, template=template)
    timings["check"] = just("check", project, env | {"PYTEST_ADDOPTS": f"--durations={DURATIONS}"})
    timings["reference"] = run(REFERENCE, project, env, timeout=600)
    timings["warm_check"] = just("check", project, env)
    fresh = [timings[phase] for phase in PHASES]
    timings["fresh_to_green"] = Timing(sum(t.wall for t in fresh), sum(t.cpu for t in fresh))
    harness.log(", ".join(f"{name} {t.wall:.1f} s" for name, t in timings.items()))
    if samples is None:
        return
    for name, timing in timings.items():
        if name != "lock":
            samples.add(name, timing)
    for session in _SESSION.findall(timings["check"].stdout)[-1:]:
        samples.note("pytest session", float(session))
    for seconds, when, test in _TEST.findall(timings["check"].stdout):
        samples.note(f"pytest: {when} {test}", float(seconds))


def hook_times(template: Path, parent: Path, env: dict[str, str]) -> dict[str, float]:
    """Each pre-commit hook's time in a freshly installed project (a cold mypy cache)."""
    project, _ = harness.new_project(parent, env, template=template)
    command = ["uv", "run", "--frozen", "pre-commit", "run", "--all-files", "--verbose"]
    verbose = run(command, project, env, timeout=3600, merge_stderr=True)
    hooks = {hook: float(seconds) for hook, seconds in _HOOK.findall(verbose.stdout)}
    return {"total": round(verbose.wall, 2)} | hooks


def benchmark(args: argparse.Namespace) -> None:
    env = harness.command_env(bytecode_cache=not args.no_bytecode_cache)
    samples = Samples()
    settings = {"repeats": args.repeats, "bytecode_cache": not args.no_bytecode_cache}
    summary = Summary("check", settings, harness.tool_versions(("uv", "just", "git", "copier")))
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        template = harness.snapshot_template(harness.TEMPLATE_ROOT, Path(tmp) / "template")
        harness.log("warm-up run (untimed): fills uv's cache")
        one_run(template, Path(tempfile.mkdtemp(dir=tmp)), env, None)
        for index in range(args.repeats):
            parent = Path(tempfile.mkdtemp(dir=tmp))
            one_run(template, parent, env, samples)
            if index == args.repeats - 1:  # once, in the last run's project: what CI runs
                samples.add("check_all", just("check-all", parent / "project", env))
            shutil.rmtree(parent)
        if not args.no_attribution:
            hooks = hook_times(template, Path(tempfile.mkdtemp(dir=tmp)), env)
            summary.details["hooks_fresh_project_s"] = hooks
    summary.measure_all(samples, digits=2)
    for name, limit in (("fresh_to_green", "<= 60"), ("warm_check", "<= 20")):
        summary.measure(name, samples.wall[name], samples.cpu[name], digits=2, target=limit)
    for name in ("fresh_to_green", "check", "warm_check"):
        target = "<= 5" if name == "fresh_to_green" else None
        summary.compare(f"{name}_vs_reference", samples, name, "reference", target=target)
    session = median(samples.values.get("pytest session", [0.0]))
    split = {
        "pytest_session": session,
        "hooks_and_startup": median(samples.wall["check"]) - session,
    }
    summary.details["check_split_s"] = {part: round(seconds, 2) for part, seconds in split.items()}
    notes = samples.values.items()
    tests = {n.removeprefix("pytest: "): median(v) for n, v in notes if n.startswith("pytest: ")}
    slowest = sorted(tests.items(), key=lambda kv: -kv[1])[:DURATIONS]
    summary.details["slowest_tests_s"] = {name: round(seconds, 2) for name, seconds in slowest}
    harness.report(args, summary, samples)


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, benchmark="check", repeats=2)
    parser.add_argument("--no-attribution", action="store_true", help="skip timing each hook")
    parser.add_argument(
        "--no-bytecode-cache", action="store_true",
        help="force PYTHONDONTWRITEBYTECODE=1: every process compiles its imports from source",
    )  # fmt: skip
    harness.main(benchmark, parser)
