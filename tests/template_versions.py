"""Build tagged template versions in a temporary git repository.

Version ``1.0.0`` is the template as it is in this working tree (tracked files
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


def build_template_versions(destination: Path) -> Path:
    """Create ``destination`` as a template repository tagged 1.0.0, 1.1.0 and 1.2.0."""
    for name in _working_tree_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE_ROOT / name, target)
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
