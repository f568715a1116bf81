"""Start-up of the generated CLI's read-only registry commands, as a user runs them.

Generates a default project, installs it, runs its pipeline once and promotes
the version, then times each command in fresh processes (``--repeats`` each,
the best counts) next to two references measured in the same run: the
project's interpreter doing nothing (``python -c pass``) and importing MLflow
(what every registry command paid before the local store was read directly).
Targets: read-only commands within 1.2 s, ``--help`` within 0.3 s.

Run it with ``uv run --frozen python benchmarks/bench_cli.py [--repeats 5]``.
"""

from __future__ import annotations

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
    package_name,
    promoted_project,
    report,
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


def main(argv: Sequence[str] | None = None) -> int:
    """Time every command and reference; print and write the summary."""
    parser = argument_parser(
        __doc__, benchmark="cli", repeats=5, repeats_help="fresh processes per command (best)"
    )
    args = parser.parse_args(argv)
    env = command_env()
    samples = Samples()
    summary = Summary("cli", settings={"repeats": args.repeats})
    with tempfile.TemporaryDirectory() as tmp:
        project = promoted_project(Path(tmp), env)
        venv_bin = project / ".venv" / "bin"
        cli = str(venv_bin / package_name(project))
        programs = {name: [str(venv_bin / "python"), *a] for name, a in REFERENCES.items()}
        programs |= {name: [cli, *a] for name, a in COMMANDS.items()}
        for name, command in programs.items():
            for _ in range(args.repeats):
                samples.add(name, run(command, project, env, timeout=300))
    floor = min(samples.wall[FLOOR])
    for name in programs:
        target = TARGETS.get(name, READ_TARGET if name in COMMANDS else None)
        summary.measure(name, samples.wall[name], samples.cpu[name], at_most=target, judge_min=True)
        if name != FLOOR:
            best = min(samples.wall[name])
            summary.ratio(f"{name} vs python", best / floor, of=f"best {name} / best {FLOOR}")
    report(args, summary, samples)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
