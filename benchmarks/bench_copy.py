"""``copier copy`` of the full template against copier's own floor, and ``copier update``.

Targets, ratios in the same run: the copy as a user runs it (the CLI, a fresh process) at
most 1.5x the CLI copy of a one-file template by the same copier; ``copier update`` of a
project with no user changes at most 2x the copy time. Both templates are git
repositories (copier clones a git template before rendering it), each tagged ``1.0.0``
and ``2.0.0`` (one line appended to ``template/README.md.jinja``). ``floor`` is a
one-file template with this one's layout; ``full`` a snapshot of this working tree. The
``render.*`` measures copy plain directories (no clone): the floor, this ``copier.yml``
with one file (``questions``), this template with every file emptied (``skeleton``) and
in full, which splits the copy into questions, per-file work and contents. One untimed
warm-up round, then every measure once per repeat, rotated. ``--profile`` prints a
cProfile of one full copy and one update. Results: docs/benchmarks.md.
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
RATIOS = {  # name: (candidate, reference, target at most)
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


def tagged(repo: Path) -> Path:
    """Tag ``repo`` 1.0.0, append the update marker to one file, commit and tag 2.0.0."""
    git("tag", V1, cwd=repo)
    (repo / CHANGED).write_text((repo / CHANGED).read_text(encoding="utf-8") + f"\n{MARKER}\n")
    git("commit", "--quiet", "--no-verify", "-am", "docs: benchmark update marker", cwd=repo)
    git("tag", V2, cwd=repo)
    return repo


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


def copy(src: Path, dst: Path, ref: str | None = V1) -> None:
    run_copy(str(src), dst, defaults=True, unsafe=False, quiet=True, vcs_ref=ref)


def copied_and_committed(src: Path, project: Path) -> Path:
    """A project copied at 1.0.0 and committed: the untimed set-up of an update."""
    copy(src, project)
    write_tree(project, {}, init=True)
    return project


def update(project: Path) -> None:
    run_update(project, defaults=True, overwrite=True, skip_answered=True, unsafe=False,
               quiet=True, vcs_ref=V2)  # fmt: skip
    readme = (project / "README.md").read_text(encoding="utf-8")
    if MARKER not in readme or "<<<<<<<" in readme or any(project.rglob("*.rej")):
        raise BenchmarkError(f"{project}: the update did not bring the marker in cleanly")


def measures(work: Path) -> dict[str, Callable[[Path], Timing]]:
    """Every measure: a function of a fresh, empty project path."""
    full = tagged(harness.snapshot_template(harness.TEMPLATE_ROOT, work / "full"))
    floor = tagged(write_tree(work / "floor", FLOOR, init=True))
    updatable = tagged(write_tree(work / "floor-answers", FLOOR | ANSWERS, init=True))
    plain = {name: work / f"{name}-plain" for name in ("floor", "full", "questions", "skeleton")}
    for name, repo in (("floor", floor), ("full", full)):
        run(
            ["git", "clone", "--quiet", "--branch", V1, str(repo), str(plain[name])],
            work,
            timeout=600,
        )
        shutil.rmtree(plain[name] / ".git")
    write_tree(
        plain["questions"], {**FLOOR, "copier.yml": (full / "copier.yml").read_text()}, init=False
    )
    shutil.copytree(plain["full"], plain["skeleton"], symlinks=True)
    for path in (plain["skeleton"] / "template").rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_bytes(b"")
    found: dict[str, Callable[[Path], Timing]] = {}
    for name, repo, source in (("floor", floor, updatable), ("full", full, full)):
        found[f"cli.{name}"] = partial(measure, "cli", repo)
        found[f"copy.{name}"] = partial(measure, "copy", repo)
        found[f"update.{name}"] = partial(measure, "update", source)
    for name, folder in plain.items():
        found[f"render.{name}"] = partial(measure, "render", folder)
    return found


def measure(kind: str, source: Path, project: Path) -> Timing:
    """One measure of ``kind`` from ``source`` into ``project``, a new path."""
    if kind == "cli":
        cli = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--vcs-ref", V1]
        return run([*cli, str(source), str(project)], project.parent, timeout=300)
    if kind == "update":
        copied_and_committed(source, project)
        return timed(lambda: update(project))
    return timed(lambda: copy(source, project, ref=V1 if kind == "copy" else None))


def fresh(measure: Callable[[Path], Timing], scratch: Path) -> Timing:
    """One measure in a new directory, deleted afterwards."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        return measure(folder / "project")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def benchmark(args: argparse.Namespace) -> None:
    os.environ.clear()  # in-process copier and git get the commands' environment
    os.environ.update(harness.command_env())
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        work = Path(tmp)
        found, scratch = measures(work), work / "projects"
        scratch.mkdir()
        files = {}
        for name in ("floor", "full"):
            copy(work / name, scratch / name)
            files[name] = sum(
                1 for p in (scratch / name).rglob("*") if p.is_file() and ".git" not in p.parts
            )
        summary = Summary("copy", settings={"repeats": args.repeats, "files_rendered": files})
        summary.versions = {"copier": version("copier"), **harness.tool_versions(["git"])}
        samples = Samples()
        samples.rounds({name: partial(fresh, m, scratch) for name, m in found.items()},
                       args.repeats, warmup=1)  # fmt: skip
        summary.measure_all(samples, digits=4)
        for name, (candidate, reference, target) in RATIOS.items():
            summary.compare(name, samples, candidate, reference, target=target)
        harness.report(args, summary, samples)
        for kind in ("copy", "update") if args.profile else ():
            profiler, project = cProfile.Profile(), scratch / f"profile-{kind}"
            if kind == "copy":
                profiler.runcall(copy, work / "full", project)
            else:
                profiler.runcall(update, copied_and_committed(work / "full", project))
            print(f"\ncProfile of one full {kind} (cumulative time):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def parser() -> argparse.ArgumentParser:
    parser = harness.argument_parser(__doc__, benchmark="copy", repeats=5)
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of one full copy and one update"
    )
    return parser


if __name__ == "__main__":
    harness.main(benchmark, parser())
