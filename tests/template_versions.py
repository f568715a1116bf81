"""Build tagged template versions in a temporary git repository.

Two kinds of history:

- :func:`build_release_history`: this repository's real releases
  (``releases.py``), each tagged at its recorded commit, with the working tree
  on top as the next release. The replay tests update projects generated from
  past releases to it.
- :func:`build_template_versions`: synthetic releases on top of the working
  tree, for what a real release cannot show on demand (a changed default, a
  new file, an answer switch).

Synthetic version ``1.0.0`` is the template as it is in this working tree (tracked files
with their uncommitted changes, plus new files that git does not ignore).
Two realistic releases follow, each a commit with a PEP 440 tag:

- ``1.1.0``: a new recipe in ``tasks/check.just``, a changed README line, a
  changed comment in ``.pre-commit-config.yaml`` and in ``params.yaml``, and a
  new rendered file (``SECURITY.md``);
- ``1.2.0``: a changed default in ``params.yaml`` (``max_regression``), the
  line a user is most likely to have tuned too, and a new ``CONTRIBUTING.md``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from releases import NEXT_VERSION, RELEASES

from conftest import TEMPLATE_ROOT, run

VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
# All copier reads of this repository (`_subdirectory: template`).
TEMPLATE_PATHS = ("--", "copier.yml", "template")

# 1.1.0
README_LINE_BEFORE = "`just` alone lists every recipe."
README_LINE_AFTER = "`just` alone lists every recipe; `just models` lists the registry's."
PRE_COMMIT_BEFORE = "# Every hook is `repo: local` and runs through uv"
PRE_COMMIT_AFTER = "# All hooks are `repo: local` and run through uv"
PARAMS_COMMENT_BEFORE = "# Every knob of the pipeline lives here: data, split and model."
PARAMS_COMMENT_AFTER = (
    "# Every knob of the pipeline lives here: data, split, model, tracking, registry, gates."
)
NEW_RECIPE = """
# Scan the package for security issues with bandit
[group('quality')]
security:
    uv run --frozen bandit -c pyproject.toml -r src
"""
SECURITY_FILE = "SECURITY.md"

# 1.2.0
REGRESSION_BEFORE = "max_regression: 0.05"
REGRESSION_AFTER = "max_regression: 0.03"
CONTRIBUTING_FILE = "CONTRIBUTING.md"


def _working_tree_files() -> list[str]:
    """The template's files as copier would see them: copier.yml and template/."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", *TEMPLATE_PATHS],
        cwd=TEMPLATE_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [name for name in listing.split("\0") if name and (TEMPLATE_ROOT / name).is_file()]


def _replace(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    assert before in text, f"{before!r} not found in {path}: update tests/template_versions.py"
    path.write_text(text.replace(before, after, 1))


def _release(repo: Path, version: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "--quiet", "--no-verify", "-m", f"feat: template {version}"], repo)
    run(["git", "tag", "-a", version, "-m", f"copier-mlops {version}"], repo)


def _copy_working_tree(destination: Path) -> None:
    """Make ``destination``'s copier.yml and template/ those of this working tree."""
    shutil.rmtree(destination / "template", ignore_errors=True)
    (destination / "copier.yml").unlink(missing_ok=True)
    for name in _working_tree_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE_ROOT / name, target)


def missing_release_commits() -> list[str]:
    """Recorded releases whose commit this clone of the repository does not have."""
    missing = []
    for release in RELEASES:
        found = subprocess.run(
            ["git", "cat-file", "-e", f"{release.commit}^{{commit}}"],
            cwd=TEMPLATE_ROOT,
            capture_output=True,
            check=False,
        )
        if found.returncode != 0:
            missing.append(f"{release.version} ({release.commit})")
    return missing


def build_release_history(destination: Path) -> Path:
    """Clone this repository to ``destination`` with every recorded release tagged.

    The working tree (uncommitted changes included) is committed on top and
    tagged :data:`releases.NEXT_VERSION`, the highest tag, so ``copier update``
    without ``-r`` goes to it. Tags the clone brought along are removed first:
    only the recorded releases count.
    """
    missing = missing_release_commits()
    if missing:
        shallow = run(["git", "rev-parse", "--is-shallow-repository"], TEMPLATE_ROOT).stdout
        hint = " (a shallow clone: run `git fetch --unshallow`)" if "true" in shallow else ""
        pytest.fail(
            f"commits of recorded releases are missing from {TEMPLATE_ROOT}{hint}: "
            f"{', '.join(missing)}. The replay tests rebuild each release from this "
            "repository's history (tests/releases.py) and need it in full."
        )
    run(["git", "clone", "--quiet", str(TEMPLATE_ROOT), str(destination)], TEMPLATE_ROOT)
    tags = run(["git", "tag", "--list"], destination).stdout.split()
    if tags:
        run(["git", "tag", "--delete", *tags], destination)
    for release in RELEASES:
        message = f"copier-mlops {release.version}"
        run(["git", "tag", "-a", release.version, release.commit, "-m", message], destination)
    _copy_working_tree(destination)
    run(["git", "add", "-A", "--", "copier.yml", "template"], destination)
    message = f"feat: template {NEXT_VERSION} (the working tree)"
    run(["git", "commit", "--quiet", "--no-verify", "--allow-empty", "-m", message], destination)
    run(["git", "tag", "-a", NEXT_VERSION, "-m", f"copier-mlops {NEXT_VERSION}"], destination)
    return destination


def tag_release(repo: Path, version: str) -> None:
    """Commit everything in ``repo`` and tag it ``version``, as a template release."""
    _release(repo, version)


def build_template_versions(destination: Path) -> Path:
    """Create ``destination`` as a template repository tagged 1.0.0, 1.1.0 and 1.2.0."""
    _copy_working_tree(destination)
    run(["git", "init", "--quiet", "--initial-branch=main"], destination)
    _release(destination, "1.0.0")

    template = destination / "template"
    with (template / "tasks" / "check.just").open("a") as handle:
        handle.write(NEW_RECIPE)
    _replace(template / "README.md.jinja", README_LINE_BEFORE, README_LINE_AFTER)
    _replace(template / ".pre-commit-config.yaml", PRE_COMMIT_BEFORE, PRE_COMMIT_AFTER)
    _replace(template / "params.yaml.jinja", PARAMS_COMMENT_BEFORE, PARAMS_COMMENT_AFTER)
    (template / f"{SECURITY_FILE}.jinja").write_text(
        "# Security\n\nReport vulnerabilities in {{ project_name }} privately to "
        "{{ author_email }}.\n"
    )
    _release(destination, "1.1.0")

    _replace(template / "params.yaml.jinja", REGRESSION_BEFORE, REGRESSION_AFTER)
    (template / CONTRIBUTING_FILE).write_text(
        "# Contributing\n\nRun `just check` before you open a pull request.\n"
    )
    _release(destination, "1.2.0")
    return destination
