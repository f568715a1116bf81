"""``copier copy`` of the full template against copier's own floor, and ``copier update``.

Both templates are git repositories tagged ``1.0.0`` and ``2.0.0``. What is timed and how
to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import harness
from copier import run_copy, run_update
from harness import GIT_COMMIT, BenchmarkError, Summary, Timing, run, timed

V1, V2, CHANGED = "1.0.0", "2.0.0", Path("template/README.md.jinja")
MARKER = "Benchmark marker: this line arrives with the update to 2.0.0."
FLOOR = {
    "copier.yml": "_subdirectory: template\n_templates_suffix: .jinja\n\nproject_name:\n"
    "  type: str\n  help: Name of the project\n  default: Floor\n",
    str(CHANGED): "# {{ project_name }}\n",
}


def committed(root: Path, files: dict[str, str]) -> Path:
    """A git repository at ``root`` with ``files`` (and whatever it holds) committed."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    run(["git", "init", "--quiet", "--initial-branch=main"], root, timeout=600)
    run(["git", "add", "-A"], root, timeout=600)
    run([*GIT_COMMIT, "feat: template"], root, timeout=600)
    return root


def tagged(repo: Path) -> Path:
    """Tag ``repo`` 1.0.0, append the update marker to one file, commit and tag 2.0.0."""
    run(["git", "tag", V1], repo, timeout=600)
    (repo / CHANGED).write_text((repo / CHANGED).read_text(encoding="utf-8") + f"\n{MARKER}\n")
    run([*GIT_COMMIT, "docs: benchmark update marker", "--all"], repo, timeout=600)
    run(["git", "tag", V2], repo, timeout=600)
    return repo


def copy(src: Path, dst: Path) -> None:
    run_copy(str(src), dst, defaults=True, unsafe=False, quiet=True, vcs_ref=V1)


def update(project: Path) -> None:
    run_update(project, defaults=True, overwrite=True, skip_answered=True, unsafe=False,
               quiet=True, vcs_ref=V2)  # fmt: skip
    readme = (project / "README.md").read_text(encoding="utf-8")
    if MARKER not in readme or "<<<<<<<" in readme or any(project.rglob("*.rej")):
        raise BenchmarkError(f"{project}: the update did not bring the marker in cleanly")


def measure(kind: str, source: Path, scratch: Path) -> Timing:
    """One measure of ``kind`` from ``source`` into a new project, deleted afterwards."""
    with tempfile.TemporaryDirectory(dir=scratch, ignore_cleanup_errors=True) as folder:
        project = Path(folder) / "project"
        if kind == "cli":
            cli = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", V1]
            return run([*cli, str(source), str(project)], Path(folder), timeout=300)
        if kind == "update":  # from a project copied at 1.0.0 and committed, untimed
            copy(source, project)
            committed(project, {})
            return timed(lambda: update(project))
        return timed(lambda: copy(source, project))


def benchmark(args: argparse.Namespace) -> None:
    env = harness.subprocess_env()  # in-process copier and git get the commands' environment
    os.environ.clear()
    os.environ.update(env)
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        work = Path(tmp)
        full = tagged(harness.snapshot_template(work / "full"))
        found: dict[str, Callable[[], Timing]] = {
            "cli.floor": partial(measure, "cli", tagged(committed(work / "floor", FLOOR)), work),
            "cli.full": partial(measure, "cli", full, work),
            "copy.full": partial(measure, "copy", full, work),
            "update.full": partial(measure, "update", full, work),
        }
        copy(full, work / "rendered")
        rendered = (p for p in (work / "rendered").rglob("*") if ".git" not in p.parts)
        files = sum(1 for path in rendered if path.is_file())
        summary = Summary("copy", settings={"repeats": args.repeats, "files_rendered": files})
        summary.versions = {"copier": version("copier"), **harness.tool_versions(["git"])}
        summary.rounds(found, args.repeats, warmup=1)
    summary.measure_all(digits=4)
    summary.compare("cli_full_vs_floor", "cli.full", "cli.floor", target="<= 1.5")
    summary.compare("update_full_vs_copy_full", "update.full", "copy.full", target="<= 2")
    harness.report(args, summary)


if __name__ == "__main__":
    harness.main(benchmark, harness.argument_parser(__doc__, "copy", repeats=5))
