"""``copier copy`` of the full template against copier's own floor, and ``copier update``.

Both templates are git repositories tagged ``1.0.0`` and ``2.0.0``; ``render.*`` copies
plain directories to split the copy into questions, per-file work and contents. What is
timed and how to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

import harness
from copier import run_copy, run_update
from harness import BenchmarkError, Samples, Summary, Timing, run, timed

V1, V2, CHANGED = "1.0.0", "2.0.0", Path("template/README.md.jinja")
MARKER = "Benchmark marker: this line arrives with the update to 2.0.0."
FLOOR = {
    "copier.yml": "_subdirectory: template\n_templates_suffix: .jinja\n\nproject_name:\n"
    "  type: str\n  help: Name of the project\n  default: Floor\n",
    str(CHANGED): "# {{ project_name }}\n",
}
ANSWERS = {
    "template/{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers | to_nice_yaml -}}\n"
}
RATIOS = {  # name: (candidate, reference, target)
    "cli_full_vs_floor": ("cli.full", "cli.floor", "<= 1.5"),
    "update_full_vs_copy_full": ("update.full", "copy.full", "<= 2"),
    "copy_full_vs_floor": ("copy.full", "copy.floor", None),
    "render_full_vs_floor": ("render.full", "render.floor", None),
    "render_questions_vs_floor": ("render.questions", "render.floor", None),
    "render_skeleton_vs_questions": ("render.skeleton", "render.questions", None),
    "render_full_vs_skeleton": ("render.full", "render.skeleton", None),
    "update_floor_vs_copy_floor": ("update.floor", "copy.floor", None),
}


def git(*args: str, cwd: Path) -> None:
    run(["git", *args], cwd, timeout=600)


def write_tree(root: Path, files: dict[str, str], *, init: bool) -> Path:
    """``files`` under ``root``; with ``init`` a git repository with them committed."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    if init:
        git("init", "--quiet", "--initial-branch=main", cwd=root)
        git("add", "-A", cwd=root)
        git("commit", "--quiet", "--no-verify", "-m", "feat: template", cwd=root)
    return root


def tagged(repo: Path) -> Path:
    """Tag ``repo`` 1.0.0, append the update marker to one file, commit and tag 2.0.0."""
    git("tag", V1, cwd=repo)
    (repo / CHANGED).write_text((repo / CHANGED).read_text(encoding="utf-8") + f"\n{MARKER}\n")
    git("commit", "--quiet", "--no-verify", "-am", "docs: benchmark update marker", cwd=repo)
    git("tag", V2, cwd=repo)
    return repo


def copy(src: Path, dst: Path, ref: str | None = V1) -> None:
    run_copy(str(src), dst, defaults=True, unsafe=False, quiet=True, vcs_ref=ref)


def copied_and_committed(src: Path, project: Path) -> Path:
    """A project copied at 1.0.0 and committed: the untimed set-up of an update."""
    copy(src, project)
    return write_tree(project, {}, init=True)


def update(project: Path) -> None:
    run_update(project, defaults=True, overwrite=True, skip_answered=True, unsafe=False,
               quiet=True, vcs_ref=V2)  # fmt: skip
    readme = (project / "README.md").read_text(encoding="utf-8")
    if MARKER not in readme or "<<<<<<<" in readme or any(project.rglob("*.rej")):
        raise BenchmarkError(f"{project}: the update did not bring the marker in cleanly")


def measure(kind: str, source: Path, scratch: Path) -> Timing:
    """One measure of ``kind`` from ``source`` into a new project, deleted afterwards."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    project = folder / "project"
    try:
        if kind == "cli":
            cli = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", V1]
            return run([*cli, str(source), str(project)], folder, timeout=300)
        if kind == "update":
            copied_and_committed(source, project)
            return timed(lambda: update(project))
        return timed(lambda: copy(source, project, ref=V1 if kind == "copy" else None))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measures(work: Path, scratch: Path) -> dict[str, Callable[[], Timing]]:
    """Every measure, on the templates it builds in ``work``."""
    full = tagged(harness.snapshot_template(harness.TEMPLATE_ROOT, work / "full"))
    floor = tagged(write_tree(work / "floor", FLOOR, init=True))
    updatable = tagged(write_tree(work / "floor-answers", FLOOR | ANSWERS, init=True))
    plain = {name: work / f"{name}-plain" for name in ("floor", "full", "questions", "skeleton")}
    for name, repo in (("floor", floor), ("full", full)):
        git("clone", "--quiet", "--branch", V1, str(repo), str(plain[name]), cwd=work)
        shutil.rmtree(plain[name] / ".git")
    questions = {**FLOOR, "copier.yml": (full / "copier.yml").read_text(encoding="utf-8")}
    write_tree(plain["questions"], questions, init=False)
    shutil.copytree(plain["full"], plain["skeleton"], symlinks=True)
    for path in (plain["skeleton"] / "template").rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_bytes(b"")
    found: dict[str, Callable[[], Timing]] = {}
    for name, repo, updated in (("floor", floor, updatable), ("full", full, full)):
        found[f"cli.{name}"] = partial(measure, "cli", repo, scratch)
        found[f"copy.{name}"] = partial(measure, "copy", repo, scratch)
        found[f"update.{name}"] = partial(measure, "update", updated, scratch)
    for name, folder in plain.items():
        found[f"render.{name}"] = partial(measure, "render", folder, scratch)
    return found


def profile(work: Path, scratch: Path) -> None:
    """Print a cProfile of one full copy and one full update."""
    for kind in ("copy", "update"):
        profiler, project = cProfile.Profile(), scratch / f"profile-{kind}"
        if kind == "copy":
            profiler.runcall(copy, work / "full", project)
        else:
            profiler.runcall(update, copied_and_committed(work / "full", project))
        print(f"\ncProfile of one full {kind} (cumulative time):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def benchmark(args: argparse.Namespace) -> None:
    env = harness.command_env()  # in-process copier and git get the commands' environment
    os.environ.clear()
    os.environ.update(env)
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        work, scratch = Path(tmp), Path(tmp) / "projects"
        scratch.mkdir()
        found = measures(work, scratch)
        files = {}
        for name in ("floor", "full"):
            copy(work / name, scratch / name)
            rendered = (p for p in (scratch / name).rglob("*") if ".git" not in p.parts)
            files[name] = sum(1 for path in rendered if path.is_file())
        summary = Summary("copy", settings={"repeats": args.repeats, "files_rendered": files})
        summary.versions = {"copier": version("copier"), **harness.tool_versions(["git"])}
        samples = Samples()
        samples.rounds(found, args.repeats, warmup=1)
        summary.measure_all(samples, digits=4)
        for name, (candidate, reference, target) in RATIOS.items():
            summary.compare(name, samples, candidate, reference, target=target)
        harness.report(args, summary, samples)
        if args.profile:
            profile(work, scratch)


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, benchmark="copy", repeats=5)
    parser.add_argument("--profile", action="store_true", help="cProfile a full copy and update")
    harness.main(benchmark, parser)
