"""A fresh project to a green ``just check`` (the fast tier), warm uv cache; warm re-runs.

Targets: copy + git + install + ``just check`` within 60 s and within 5x the import
reference timed right after in the same project (``uv run --frozen python -c "import
sklearn, pandas, pandera"``); a warm ``just check`` (nothing changed) within 20 s.
``just check-all`` (every test, with coverage: what CI runs) is timed once, not judged.
One untimed run fills uv's cache; then each timed run starts from an empty directory.
pytest's session time and slowest tests (``--durations``) split ``check``; unless
``--no-attribution``, one more fresh project times each pre-commit hook from a cold
mypy cache. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path

import harness
from harness import Samples, Summary, Timing, median, run

FRESH_TARGET_S, REFERENCE_TARGET, WARM_TARGET_S = 60.0, 5.0, 20.0
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


def benchmark(args: argparse.Namespace) -> None:
    env = harness.command_env(bytecode_cache=not args.no_bytecode_cache)
    samples = Samples()
    summary = Summary(
        "check", settings={"repeats": args.repeats, "bytecode_cache": not args.no_bytecode_cache}
    )
    summary.versions = harness.tool_versions(("uv", "just", "git", "copier"))
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        template = harness.snapshot_template(harness.TEMPLATE_ROOT, Path(tmp) / "template")
        harness.log("warm-up run (untimed): fills uv's cache")
        one_run(template, Path(tempfile.mkdtemp(dir=tmp)), env, None)
        for _ in range(args.repeats):
            parent = Path(tempfile.mkdtemp(dir=tmp))
            one_run(template, parent, env, samples)
            if _ == args.repeats - 1:  # once, in the last run's project: what CI runs
                samples.add("check_all", just("check-all", parent / "project", env))
            shutil.rmtree(parent)
        if not args.no_attribution:
            project, _ = harness.new_project(
                Path(tempfile.mkdtemp(dir=tmp)), env, template=template
            )
            hooks = ["uv", "run", "--frozen", "pre-commit", "run", "--all-files", "--verbose"]
            verbose = run(hooks, project, env, timeout=3600, merge_stderr=True)
            summary.details["hooks_fresh_project_s"] = {
                "total": round(verbose.wall, 2),
                **{hook: float(s) for hook, s in _HOOK.findall(verbose.stdout)},
            }
    summary.measure_all(samples, digits=2)
    for name, target in (("fresh_to_green", FRESH_TARGET_S), ("warm_check", WARM_TARGET_S)):
        summary.measure(
            name, samples.wall[name], samples.cpu[name], digits=2, target=f"<= {target}"
        )
    summary.compare(
        "fresh_to_green_vs_reference",
        samples,
        "fresh_to_green",
        "reference",
        target=f"<= {REFERENCE_TARGET}",
    )
    summary.compare("check_vs_reference", samples, "check", "reference")
    summary.compare("warm_check_vs_reference", samples, "warm_check", "reference")
    notes = samples.values
    check, session = median(samples.wall["check"]), median(notes.get("pytest session", [0.0]))
    summary.details["check_split_s"] = {
        "pytest_session": round(session, 2),
        "hooks_and_startup": round(check - session, 2),
    }
    tests = {
        name.removeprefix("pytest: "): median(v)
        for name, v in notes.items()
        if name.startswith("pytest: ")
    }
    summary.details["slowest_tests_s"] = {
        name: round(seconds, 2)
        for name, seconds in sorted(tests.items(), key=lambda kv: -kv[1])[:DURATIONS]
    }
    harness.report(args, summary, samples)


def parser() -> argparse.ArgumentParser:
    parser = harness.argument_parser(
        __doc__, benchmark="check", repeats=2, repeats_help="timed runs"
    )
    parser.add_argument(
        "--no-attribution", action="store_true", help="skip timing each pre-commit hook"
    )
    parser.add_argument(
        "--no-bytecode-cache", action="store_true",
        help="force PYTHONDONTWRITEBYTECODE=1: every process compiles its imports from source",
    )  # fmt: skip
    return parser


if __name__ == "__main__":
    harness.main(benchmark, parser())
