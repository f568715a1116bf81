"""Benchmark: time from a fresh `copier copy` to a green `just check`, warm uv cache.

Targets: a fresh project reaches a green ``just check`` in at
most 45 s with a warm uv cache (at most 6x the reference below), and a re-run of
``just check`` in that project, nothing changed, takes at most 20 s. The machines are
shared and noisy, so the script also measures a reference in the same project and the
same run, and reports the total as a ratio to it too.

What the script does:

1. Commits a snapshot of this template's working tree into a temporary git repository
   (see ``bench_copy.snapshot_template``), so uncommitted work is measured too.
2. Runs the whole sequence once, untimed, to warm uv's cache (and the OS file cache).
3. Then ``--repeats`` times (default 2), each in a new directory, timing each phase as a
   user runs it:

   - ``copy``: ``copier copy --defaults --quiet --vcs-ref HEAD <snapshot> <project>``
     (the CLI, so interpreter start-up and copier's imports count);
   - ``git``: ``git init``, ``git add -A``, ``git commit``;
   - ``install``: ``just install`` (``uv sync --all-groups``: lock and install, then the
     pre-commit hooks);
   - ``check``: ``just check`` (every pre-commit hook on all files, then pytest with
     coverage); pytest's ``--durations`` table is captured to attribute its time;

   and right after, in the same project, the reference: ``ref.import`` is
   ``uv run --frozen python -c "import sklearn, pandas, pandera"`` and ``ref.collect``
   is ``uv run --frozen pytest --co -q``; then ``warm_check``: ``just check`` again,
   as a developer re-runs it (mypy's cache, the tests' trained workspace and bytecode
   are warm).
4. Unless ``--no-attribution``: one more fresh project, installed, runs
   ``pre-commit run --all-files --verbose`` to time each hook from a cold mypy cache.

Python may write bytecode (``__pycache__``) as on a developer machine: the variable
``PYTHONDONTWRITEBYTECODE`` is removed from the environment unless
``--no-bytecode-cache`` is given (then every process compiles its imports from source).

The summary goes to ``benchmarks/results/check.json``. Run it with
``uv run --frozen python benchmarks/bench_check.py [--repeats 2] [--no-attribution]``.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench_copy import snapshot_template
from harness import (
    TEMPLATE_ROOT,
    BenchmarkError,
    Samples,
    Summary,
    Timing,
    argument_parser,
    command_env,
    markdown_table,
    median,
    report,
    tool_versions,
    use_command_env,
)
from harness import run as run_timed

TARGET_S = 45.0
TARGET_REFERENCE_RATIO = 6.0
WARM_TARGET_S = 20.0
TIMEOUT_S = 3600.0
PHASES = ("copy", "git", "install", "check")
REFERENCE = {
    "ref.import": ["uv", "run", "--frozen", "python", "-c", "import sklearn, pandas, pandera"],
    "ref.collect": ["uv", "run", "--frozen", "pytest", "--co", "-q"],
}
PYTEST_DURATIONS = 15
PYTEST_PREFIX = "pytest: "  # raw values of each test phase's duration, per run
_DURATION_LINE = re.compile(r"^\s*([\d.]+)s\s+(call|setup|teardown)\s+(\S+)", re.MULTILINE)
_PYTEST_TOTAL = re.compile(r"^=+ .*\bin ([\d.]+)s\b.*=+$", re.MULTILINE)
_HOOK_DURATION = re.compile(r"^- hook id: (\S+)\n(?:- .*\n)*?- duration: ([\d.]+)s", re.MULTILINE)


def run(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Timing:
    """Run and time one command, stderr folded into its output (see ``harness.run``)."""
    return run_timed(args, cwd, env, timeout=TIMEOUT_S, merge_stderr=True)


def run_all(commands: Sequence[Sequence[str]], cwd: Path, env: Mapping[str, str]) -> Timing:
    """Run ``commands`` one after another as one timed phase."""
    results = [run(command, cwd, env) for command in commands]
    return Timing(
        sum(r.wall for r in results),
        sum(r.cpu for r in results),
        "".join(r.stdout for r in results),
    )


def phase_commands(template: Path, project: Path) -> dict[str, tuple[list[str], ...]]:
    """The commands of each phase, from an empty directory to a green check."""
    return {
        "copy": (
            [
                "copier",
                "copy",
                "--defaults",
                "--quiet",
                "--vcs-ref",
                "HEAD",
                str(template),
                str(project),
            ],
        ),
        "git": (
            ["git", "init", "--quiet", "--initial-branch=main"],
            ["git", "add", "-A"],
            ["git", "commit", "--quiet", "--no-verify", "-m", "chore: generate project"],
        ),
        "install": (["just", "install"],),
        "check": (["just", "check"],),
    }


def note_pytest(samples: Samples, stdout: str) -> None:
    """Record pytest's session time and its slowest tests, from the output of ``just check``."""
    totals = _PYTEST_TOTAL.findall(stdout)
    if totals:
        samples.note("pytest_session", float(totals[-1]))
    for seconds, when, test in _DURATION_LINE.findall(stdout):
        samples.note(f"{PYTEST_PREFIX}{when} {test}", float(seconds))


def one_run(
    template: Path, parent: Path, env: Mapping[str, str], samples: Samples | None
) -> dict[str, float]:
    """Copy, commit, install and check a fresh project, then measure the reference.

    Args:
        template: the template's git repository.
        parent: a new, empty directory to create the project in.
        env: the environment of every command.
        samples: where to record the timings; ``None`` for the warm-up run.

    Returns:
        This run's wall seconds per phase and reference measure.
    """
    project = parent / "project"
    walls: dict[str, float] = {}
    check_env = {**env, "PYTEST_ADDOPTS": f"--durations={PYTEST_DURATIONS}"}
    for phase, commands in phase_commands(template, project).items():
        cwd = parent if phase == "copy" else project
        result = run_all(commands, cwd, check_env if phase == "check" else env)
        walls[phase] = result.wall
        if samples is not None:
            samples.add(phase, result)
            if phase == "check":
                note_pytest(samples, result.stdout)
    walls["total"] = sum(walls[phase] for phase in PHASES)
    for name, command in REFERENCE.items():
        result = run(command, project, env)
        walls[name] = result.wall
        if samples is not None:
            samples.add(name, result)
    walls["reference"] = walls["ref.import"] + walls["ref.collect"]
    warm = run(["just", "check"], project, env)
    walls["warm_check"] = warm.wall
    if samples is not None:
        samples.add("warm_check", warm)
        samples.add("total", Timing(walls["total"], sum(samples.cpu[p][-1] for p in PHASES)))
        cpu = samples.cpu["ref.import"][-1] + samples.cpu["ref.collect"][-1]
        samples.add("reference", Timing(walls["reference"], cpu))
    return walls


def hook_durations(template: Path, parent: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Time each pre-commit hook of a freshly installed project (cold mypy cache)."""
    project = parent / "project"
    for phase in ("copy", "git", "install"):
        commands = phase_commands(template, project)[phase]
        run_all(commands, parent if phase == "copy" else project, env)
    result = run(
        ["uv", "run", "--frozen", "pre-commit", "run", "--all-files", "--verbose"], project, env
    )
    hooks = {hook: float(seconds) for hook, seconds in _HOOK_DURATION.findall(result.stdout)}
    return {"wall_s": round(result.wall, 2), "hooks_s": hooks}


def summarise(summary: Summary, samples: Samples) -> None:
    """Per-measure statistics, the target verdicts, the ratios and the check's split."""
    summary.measure_all(samples, digits=2)
    summary.measure(
        "total", samples.wall["total"], samples.cpu["total"], digits=2, at_most=TARGET_S
    )
    summary.measure(
        "warm_check",
        samples.wall["warm_check"],
        samples.cpu["warm_check"],
        digits=2,
        at_most=WARM_TARGET_S,
    )
    total = median(samples.wall["total"])
    reference = median(samples.wall["reference"])
    check = median(samples.wall["check"])
    of = "{} / reference (ref.import + ref.collect), medians"
    summary.ratio(
        "total_vs_reference",
        total / reference,
        of=of.format("total"),
        digits=2,
        at_most=TARGET_REFERENCE_RATIO,
    )
    summary.ratio("check_vs_reference", check / reference, of=of.format("check"), digits=2)
    summary.ratio(
        "target_vs_reference", TARGET_S / reference, of=of.format(f"{TARGET_S:g} s"), digits=2
    )
    sessions = samples.values.get("pytest_session")
    pytest_s = median(sessions) if sessions else None
    summary.details["check_split_s"] = {
        "pytest_session": round(pytest_s, 2) if pytest_s is not None else None,
        "hooks_and_startup": round(check - pytest_s, 2) if pytest_s is not None else None,
    }
    summary.details["slowest_tests"] = slowest_tests(samples, PYTEST_DURATIONS)


def print_details(details: Mapping[str, Any]) -> None:
    """Print how ``check`` splits, and each pre-commit hook's time if it was measured."""
    split = details["check_split_s"]
    print(
        f"\ncheck = pytest session {split['pytest_session']} s"
        f" + hooks and start-up {split['hooks_and_startup']} s"
    )
    hooks = details.get("hooks_fresh_project")
    if hooks:
        print(f"\npre-commit hooks, fresh project (total {hooks['wall_s']} s):\n")
        ranked = sorted(hooks["hooks_s"].items(), key=lambda kv: -kv[1])
        print(markdown_table(("hook", "seconds"), ranked))


def slowest_tests(samples: Samples, top: int) -> list[dict[str, Any]]:
    """The ``top`` slowest test phases, by their median over the timed runs."""
    phases = {
        name.removeprefix(PYTEST_PREFIX): median(values)
        for name, values in samples.values.items()
        if name.startswith(PYTEST_PREFIX)
    }
    ranked = sorted(phases.items(), key=lambda kv: -kv[1])[:top]
    return [
        {"test": phase.split(" ", 1)[1], "when": phase.split(" ", 1)[0], "median_s": round(s, 2)}
        for phase, s in ranked
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argument_parser(__doc__, benchmark="check", repeats=2, repeats_help="timed runs")
    parser.add_argument(
        "--source",
        type=Path,
        default=TEMPLATE_ROOT,
        help="template repository whose working tree is measured",
    )
    parser.add_argument(
        "--no-attribution",
        action="store_true",
        help="skip the extra project that times each pre-commit hook",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="force PYTHONDONTWRITEBYTECODE=1: every process compiles its imports from source",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 0 even when the target is missed (the summary says so)."""
    args = parse_args(argv)
    bytecode_cache = not args.no_bytecode_cache
    env = command_env(bytecode_cache=bytecode_cache)
    use_command_env()
    workdir = Path(tempfile.mkdtemp(prefix="bench-check-"))
    try:
        print(f"snapshot of {args.source} in {workdir} ...", flush=True)
        template = snapshot_template(args.source, workdir / "template")
        print("warm-up run (untimed) ...", flush=True)
        one_run(template, Path(tempfile.mkdtemp(prefix="warmup-", dir=workdir)), env, None)

        samples = Samples()
        summary = Summary(
            "check",
            source=args.source,
            settings={"repeats": args.repeats, "bytecode_cache": bytecode_cache},
            versions={"python": platform.python_version()}
            | tool_versions(("uv", "just", "git", "copier")),
        )
        for index in range(args.repeats):
            parent = Path(tempfile.mkdtemp(prefix=f"run{index}-", dir=workdir))
            walls = one_run(template, parent, env, samples)
            shutil.rmtree(parent, ignore_errors=True)
            shown = ", ".join(f"{name} {seconds:.1f}" for name, seconds in walls.items())
            print(f"run {index + 1}/{args.repeats}: {shown} (s)", flush=True)
        summarise(summary, samples)
        if not args.no_attribution:
            print("attribution: pre-commit --verbose in a fresh project ...", flush=True)
            parent = Path(tempfile.mkdtemp(prefix="hooks-", dir=workdir))
            summary.details["hooks_fresh_project"] = hook_durations(template, parent, env)
        print_details(summary.details)
        report(args, summary, samples)
    except BenchmarkError as error:
        print(f"error: the project did not reach a green check:\n{error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
