"""Benchmark: `copier copy` of the full template against copier's own floor, and `copier update`.

Targets, each a ratio measured in the same run:

- ``copier copy``, all features, default answers, run as a user runs it (the CLI, a fresh
  process): at most 1.5x copier's own floor, the CLI copy of a one-file template;
- ``copier update`` of a project with no user changes: at most 2x the copy time.

Copier clones a template that lives in git before it renders it, so both templates are
git repositories copied the same way:

- ``floor``: a repository built in a temporary directory with the same layout as this
  template (``copier.yml`` with ``_subdirectory: template`` and one question, and one
  file, ``template/README.md.jinja``). A project can only be updated if its template
  writes the answers file, so ``update.floor`` uses the same repository plus that one
  file (``template/{{ _copier_conf.answers_file }}.jinja``);
- ``full``: a clone of this repository with its current working tree committed on top
  (tracked changes and untracked files that ``.gitignore`` does not exclude), so
  uncommitted work is measured too.

Each repository gets two tags: ``1.0.0`` (the template as it is) and ``2.0.0`` (one line
appended to ``template/README.md.jinja``), so an update has something to bring in.

Per repeat, in an order that rotates between repeats (so slow drift in the load of a
shared machine hits every measure alike), in this process unless said otherwise, with
``unsafe=False``, ``defaults=True`` and ``quiet=True``:

- ``cli.<t>``: ``python -m copier copy --defaults --quiet --vcs-ref 1.0.0`` in a new
  process (the target's measure: interpreter and copier start-up included);
- ``copy.<t>``: ``run_copy`` of tag ``1.0.0`` into a new directory;
- ``update.<t>``: ``run_update`` to tag ``2.0.0`` of a project copied at ``1.0.0`` and
  committed (untimed set-up), with no user changes;
- ``render.<t>``: ``run_copy`` of the same files from a plain directory (no git), i.e.
  copier without its clone: what rendering alone costs. ``render.questions`` renders
  this template's ``copier.yml`` (every question, validator and setting) with a single
  one-line file, and ``render.skeleton`` renders this template with every file under
  ``template/`` emptied (same questions, same paths, no content), which splits
  ``render.full`` into questions, copier's per-file work and the files' contents;
- ``clone.<t>``: the ``git clone --no-checkout --filter=blob:none`` and ``git checkout``
  that copier runs for a local git template, on their own.

One untimed warm-up round comes first. The summary (medians, minimums and CPU seconds
per measure, the ratios against their targets) is printed and written to
``benchmarks/results/copy.json``. ``--profile`` also prints cProfile summaries of one
full copy and one full update.

Run it with ``uv run --frozen python benchmarks/bench_copy.py [--repeats 5] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from copier import run_copy, run_update
from harness import (
    TEMPLATE_ROOT,
    BenchmarkError,
    Samples,
    Summary,
    Timing,
    argument_parser,
    median,
    report,
    rotated,
    run,
    timed,
    use_command_env,
)

COPY_TARGET = 1.5
UPDATE_TARGET = 2.0
V1 = "1.0.0"
V2 = "2.0.0"
CHANGED_FILE = Path("template") / "README.md.jinja"
UPDATE_MARKER = "Benchmark marker: this line arrives with the update to 2.0.0."
MEASURES = (
    ("cli", "floor"),
    ("cli", "full"),
    ("copy", "floor"),
    ("copy", "full"),
    ("update", "floor"),
    ("update", "full"),
    ("render", "floor"),
    ("render", "questions"),
    ("render", "skeleton"),
    ("render", "full"),
    ("clone", "floor"),
    ("clone", "full"),
)

FLOOR_COPIER_YML = """\
_subdirectory: template
_templates_suffix: .jinja

project_name:
  type: str
  help: Name of the project
  default: Floor
"""
FLOOR_README = "# {{ project_name }}\n"
ANSWERS_FILE = Path("template") / "{{ _copier_conf.answers_file }}.jinja"
ANSWERS_TEMPLATE = "{{ _copier_answers | to_nice_yaml -}}\n"


@dataclass(frozen=True)
class Template:
    """One template under test: git repositories with tags V1 and V2, and a plain copy."""

    name: str
    repo: Path
    plain: Path
    updatable: Path  # `repo`, or for the floor `repo` plus the answers file


def git(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run git in ``cwd`` (``env`` added to this process's environment); its stdout.

    Raises:
        BenchmarkError: git exited with a non-zero status.
    """
    return run(["git", *args], cwd, {**os.environ, **(env or {})}, timeout=600).stdout


def commit_all(repo: Path, message: str) -> None:
    """Stage everything in ``repo`` and commit it, skipping hooks and signing."""
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message, cwd=repo)


def tag_update(repo: Path) -> None:
    """Tag the current commit V1, append the update marker to one file, commit, tag V2."""
    git("tag", V1, cwd=repo)
    changed = repo / CHANGED_FILE
    if not changed.is_file():
        raise BenchmarkError(f"{changed} is missing: the update needs a file to change")
    changed.write_text(changed.read_text(encoding="utf-8") + f"\n{UPDATE_MARKER}\n")
    commit_all(repo, "docs: benchmark update marker")
    git("tag", V2, cwd=repo)


def export_plain(repo: Path, dest: Path) -> Path:
    """Extract tag V1 of ``repo`` into ``dest``, a plain directory without git."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", V1], cwd=repo, capture_output=True, check=True
    ).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def floor_repo(repo: Path, *, answers: bool) -> Path:
    """Create the one-file floor template (plus the answers file if asked) in ``repo``."""
    (repo / "template").mkdir(parents=True)
    (repo / "copier.yml").write_text(FLOOR_COPIER_YML, encoding="utf-8")
    (repo / CHANGED_FILE).write_text(FLOOR_README, encoding="utf-8")
    if answers:
        (repo / ANSWERS_FILE).write_text(ANSWERS_TEMPLATE, encoding="utf-8")
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    commit_all(repo, "feat: floor template")
    tag_update(repo)
    return repo


def build_floor(workdir: Path) -> Template:
    """Create the floor template repositories and the plain copy of the one-file one."""
    repo = floor_repo(workdir / "floor-template", answers=False)
    return Template(
        "floor",
        repo,
        export_plain(repo, workdir / "floor-plain"),
        floor_repo(workdir / "floor-template-updatable", answers=True),
    )


def snapshot_template(source: Path, dest: Path) -> Path:
    """Clone ``source`` into ``dest`` and commit the working tree of ``source`` there.

    The commit holds what ``git add -A`` would stage in ``source`` (tracked changes and
    untracked files that ``.gitignore`` does not exclude), made with ``source`` as the
    work tree but ``dest``'s own index, so ``source``'s index is never touched.
    """
    git("clone", "--quiet", str(source), str(dest), cwd=source)
    work_tree = {"GIT_DIR": str(dest / ".git"), "GIT_WORK_TREE": str(source)}
    git("add", "-A", cwd=source, env=work_tree)
    if git("status", "--porcelain", cwd=source, env=work_tree).strip():
        git(
            "commit",
            "--quiet",
            "--no-verify",
            "--no-gpg-sign",
            "-m",
            "chore: benchmark snapshot of the working tree",
            cwd=source,
            env=work_tree,
        )
    git("reset", "--quiet", "--hard", "HEAD", cwd=dest)
    return dest


def build_full(workdir: Path, source: Path) -> Template:
    """Snapshot this template's working tree into a tagged git repository and a plain copy."""
    repo = snapshot_template(source, workdir / "full-template")
    tag_update(repo)
    return Template("full", repo, export_plain(repo, workdir / "full-plain"), repo)


def build_questions(workdir: Path, full: Template) -> Template:
    """A plain template with this template's ``copier.yml`` and one file, no git."""
    plain = workdir / "questions-plain"
    (plain / "template").mkdir(parents=True)
    shutil.copy2(full.plain / "copier.yml", plain / "copier.yml")
    (plain / CHANGED_FILE).write_text(FLOOR_README, encoding="utf-8")
    return Template("questions", plain, plain, plain)


def build_skeleton(workdir: Path, full: Template) -> Template:
    """A plain copy of the full template with every file under ``template/`` emptied."""
    plain = workdir / "skeleton-plain"
    shutil.copytree(full.plain, plain, symlinks=True)
    for path in (plain / "template").rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.write_bytes(b"")
    return Template("skeleton", plain, plain, plain)


def copy(src: Path, dst: Path, ref: str | None = V1) -> None:
    """``copier copy`` with the default answers, as the tests and users run it."""
    run_copy(str(src), dst, defaults=True, unsafe=False, quiet=True, vcs_ref=ref)


def copy_cli(src: Path, dst: Path) -> Timing:
    """``copier copy`` as a user types it: a fresh process, so start-up counts too."""
    args = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet"]
    env = dict(os.environ)  # the commands' environment (``use_command_env`` in ``main``)
    return run([*args, "--vcs-ref", V1, str(src), str(dst)], dst.parent, env, timeout=300)


def clone_like_copier(repo: Path, dst: Path) -> None:
    """The clone and checkout copier runs for a local git template, without copier."""
    git("clone", "--quiet", "--no-checkout", "--filter=blob:none", str(repo), str(dst), cwd=repo)
    git("-c", "core.fsmonitor=false", "checkout", "--quiet", "-f", V1, cwd=dst)


def prepare_update(template: Template, project: Path) -> None:
    """Copy ``template`` at V1 into ``project`` and commit it: the untimed update set-up."""
    copy(template.updatable, project)
    git("init", "--quiet", "--initial-branch=main", cwd=project)
    commit_all(project, "chore: generate project")


def update(project: Path) -> None:
    """``copier update`` to V2 with no user changes and the recorded answers."""
    run_update(
        project,
        defaults=True,
        overwrite=True,
        skip_answered=True,
        unsafe=False,
        quiet=True,
        vcs_ref=V2,
    )


def check_update(project: Path) -> None:
    """Fail unless the update brought the marker in cleanly (no conflicts, no .rej files)."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    if UPDATE_MARKER not in readme:
        raise BenchmarkError(f"{project}: the update did not bring the marker into README.md")
    if "<<<<<<<" in readme or any(project.rglob("*.rej")):
        raise BenchmarkError(f"{project}: the update left a conflict")


def count_files(root: Path) -> int:
    """Number of files under ``root`` outside ``.git``."""
    return sum(1 for path in root.rglob("*") if path.is_file() and ".git" not in path.parts)


def measure(kind: str, template: Template, scratch: Path) -> Timing:
    """Run one measure of ``kind`` on ``template`` in a fresh directory under ``scratch``."""
    target = Path(tempfile.mkdtemp(prefix=f"{kind}-{template.name}-", dir=scratch))
    project = target / "project"
    try:
        if kind == "cli":
            return copy_cli(template.repo, project)
        if kind == "copy":
            return timed(lambda: copy(template.repo, project))
        if kind == "render":
            return timed(lambda: copy(template.plain, project, ref=None))
        if kind == "clone":
            return timed(lambda: clone_like_copier(template.repo, project))
        if kind == "update":
            prepare_update(template, project)
            result = timed(lambda: update(project))
            check_update(project)
            return result
        raise BenchmarkError(f"unknown measure {kind!r}")
    finally:
        shutil.rmtree(target, ignore_errors=True)


def run_round(
    templates: Mapping[str, Template],
    scratch: Path,
    rotation: int,
    samples: Samples | None,
) -> None:
    """Run every measure once, starting at position ``rotation`` of the measure list.

    Args:
        templates: the templates under test, by name.
        scratch: directory for the throw-away projects.
        rotation: how far to rotate the measure order (the repeat index).
        samples: where to record timings; ``None`` for the untimed warm-up.
    """
    for kind, name in rotated(MEASURES, rotation):
        timing = measure(kind, templates[name], scratch)
        if samples is not None:
            samples.add(f"{kind}.{name}", timing)


def add_ratio(
    summary: Summary,
    samples: Samples,
    name: str,
    numerator: str,
    denominator: str,
    target: float | None = None,
) -> None:
    """``numerator / denominator`` on medians (the verdict), minimums and CPU medians."""
    wall, cpu = samples.wall, samples.cpu
    summary.ratio(
        name,
        median(wall[numerator]) / median(wall[denominator]),
        of=f"{numerator} / {denominator}, medians",
        at_most=target,
        min=min(wall[numerator]) / min(wall[denominator]),
        cpu_median=median(cpu[numerator]) / median(cpu[denominator]),
    )


def summarise(summary: Summary, samples: Samples) -> None:
    """Per-measure statistics, the two target ratios, then the ratios that split the copy."""
    summary.measure_all(samples, digits=4)
    add_ratio(summary, samples, "cli_full_vs_floor", "cli.full", "cli.floor", COPY_TARGET)
    add_ratio(summary, samples, "copy_full_vs_floor", "copy.full", "copy.floor")
    add_ratio(
        summary, samples, "update_full_vs_copy_full", "update.full", "copy.full", UPDATE_TARGET
    )
    for name, numerator, denominator in (
        ("render_full_vs_floor", "render.full", "render.floor"),
        ("render_questions_vs_floor", "render.questions", "render.floor"),
        ("render_skeleton_vs_questions", "render.skeleton", "render.questions"),
        ("render_full_vs_skeleton", "render.full", "render.skeleton"),
        ("clone_full_vs_floor", "clone.full", "clone.floor"),
        ("update_floor_vs_copy_floor", "update.floor", "copy.floor"),
    ):
        add_ratio(summary, samples, name, numerator, denominator)


def profile(kind: str, template: Template, scratch: Path, top: int) -> str:
    """cProfile one ``copy`` or ``update`` of ``template``; return its ``top`` entries.

    Entries are sorted by cumulative time; the update's untimed set-up is not profiled.
    """
    profiler = cProfile.Profile()
    project = Path(tempfile.mkdtemp(prefix="profile-", dir=scratch)) / "project"
    try:
        if kind == "update":
            prepare_update(template, project)
            profiler.runcall(update, project)
        else:
            profiler.runcall(copy, template.repo, project)
    finally:
        shutil.rmtree(project.parent, ignore_errors=True)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argument_parser(__doc__, benchmark="copy", repeats=5)
    parser.add_argument(
        "--source",
        type=Path,
        default=TEMPLATE_ROOT,
        help="template repository whose working tree is measured",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a cProfile summary of one full copy and one update (not timed)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 0 even when a target is missed (the summary says so)."""
    args = parse_args(argv)
    use_command_env()
    workdir = Path(tempfile.mkdtemp(prefix="bench-copy-"))
    try:
        print(f"building the floor and a snapshot of {args.source} in {workdir} ...", flush=True)
        full = build_full(workdir, args.source)
        templates = {
            "floor": build_floor(workdir),
            "full": full,
            "questions": build_questions(workdir, full),
            "skeleton": build_skeleton(workdir, full),
        }
        scratch = workdir / "projects"
        scratch.mkdir()
        files = {}
        for name, template in templates.items():
            plain = template.repo == template.plain
            copy(template.repo, scratch / f"files-{name}", ref=None if plain else V1)
            files[name] = count_files(scratch / f"files-{name}")
        print(f"files rendered: {files}; warm-up round (untimed) ...", flush=True)
        run_round(templates, scratch, 0, None)

        samples = Samples()
        summary = Summary(
            "copy",
            source=args.source,
            settings={"repeats": args.repeats, "files_rendered": files},
            versions={
                "copier": version("copier"),
                "git": git("--version", cwd=TEMPLATE_ROOT).strip().removeprefix("git version "),
            },
        )
        for index in range(args.repeats):
            print(f"repeat {index + 1}/{args.repeats}", flush=True)
            run_round(templates, scratch, index, samples)
        summarise(summary, samples)
        report(args, summary, samples)
        if args.profile:
            for kind in ("copy", "update"):
                print(f"\ncProfile of one full {kind} (cumulative time):")
                print(profile(kind, templates["full"], scratch, 40))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
