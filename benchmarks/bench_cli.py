"""Start-up of the generated CLI's read-only registry commands, as a user runs them.

Generates a default project, installs it, runs its pipeline once and promotes
the version, then times each command in a fresh process (best of ``--repeats``)
next to two references measured in the same run: the project's interpreter
doing nothing (``python -c pass``) and importing MLflow (what every registry
command paid before the local store was read directly). Targets: read-only
commands within 1.2 s, ``--help`` within 0.3 s. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness import TEMPLATE_ROOT, command_env, run

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
TARGETS = {"--help": 0.3}
READ_TARGET = 1.2


def best(args: Sequence[str], cwd: Path, repeats: int) -> float:
    """Fastest wall time of ``repeats`` fresh processes running ``args``."""
    env = command_env(bytecode_cache=True)
    return min(run(args, cwd, env, timeout=300).wall for _ in range(repeats))


def prepared_project(parent: Path) -> Path:
    """A default project with one version in production."""
    env = command_env(bytecode_cache=True)
    project = parent / "project"
    copy = ["copier", "copy", "--defaults", "--vcs-ref=HEAD", str(TEMPLATE_ROOT), str(project)]
    run(copy, parent, env, timeout=600)
    for step in (
        ["git", "init", "--quiet", "--initial-branch=main"],
        ["git", "add", "-A"],
        ["git", "commit", "--quiet", "--no-verify", "-m", "chore: generate"],
        ["just", "install"],
        ["git", "add", "-A"],
        ["git", "commit", "--quiet", "--no-verify", "-m", "build: lock"],
        ["just", "pipeline"],
        ["just", "models", "promote", "1.0.0", "production", "benchmark"],
    ):
        run(step, project, env, timeout=1800)
    return project


def main(argv: Sequence[str] | None = None) -> int:
    """Time every command and reference; print a table and write JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="processes per command (best)")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "cli.json"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        project = prepared_project(Path(tmp))
        python = str(project / ".venv" / "bin" / "python")
        cli = str(project / ".venv" / "bin" / "my_model")
        rows = {
            name: best([python, *argv_], project, args.repeats)
            for name, argv_ in REFERENCES.items()
        }
        rows |= {
            name: best([cli, *argv_], project, args.repeats) for name, argv_ in COMMANDS.items()
        }
    floor = rows["python -c pass"]
    print(f"{'command':32} {'best s':>7} {'x python':>9} {'target s':>9}")
    for name, seconds in rows.items():
        target = TARGETS.get(name, READ_TARGET if name in COMMANDS else None)
        shown = f"{target:.1f}" if target else "-"
        print(f"{name:32} {seconds:7.2f} {seconds / floor:9.1f} {shown:>9}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"repeats": args.repeats, "seconds": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
