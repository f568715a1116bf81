"""Build tagged template versions in a temporary git repository.

Version ``1.0.0`` is the working tree as it is (tracked and new files, as
copier itself would see a dirty local template); ``1.1.0`` adds a realistic
release on top: a new recipe, a changed README line, a changed comment in the
pre-commit config and a new file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import TEMPLATE_ROOT, run

README_LINE_BEFORE = "`just` alone lists every recipe."
README_LINE_AFTER = "`just` alone lists every recipe; `just models` lists the registry's."
PRE_COMMIT_COMMENT = "# Every hook is `repo: local` and runs through uv"
NEW_RECIPE = """
# Scan the package for security issues with bandit
[group('quality')]
security:
    uv run --frozen bandit -c pyproject.toml -r src
"""


def _working_tree_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TEMPLATE_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [name for name in listing.split("\0") if name and (TEMPLATE_ROOT / name).is_file()]


def _replace(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    assert before in text, f"{before!r} not found in {path}: the release fixture is out of date"
    path.write_text(text.replace(before, after, 1))


def build_template_versions(destination: Path) -> Path:
    """Create ``destination`` as a template repository tagged 1.0.0 and 1.1.0."""
    for name in _working_tree_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE_ROOT / name, target)
    run(["git", "init", "--quiet", "--initial-branch=main"], destination)
    run(["git", "add", "-A"], destination)
    run(["git", "commit", "--quiet", "--no-verify", "-m", "feat: template 1.0.0"], destination)
    run(["git", "tag", "1.0.0"], destination)

    template = destination / "template"
    with (template / "tasks" / "check.just").open("a") as handle:
        handle.write(NEW_RECIPE)
    _replace(template / "README.md.jinja", README_LINE_BEFORE, README_LINE_AFTER)
    _replace(
        template / ".pre-commit-config.yaml",
        PRE_COMMIT_COMMENT,
        "# All hooks are `repo: local` and run through uv",
    )
    (template / "SECURITY.md").write_text(
        "# Security\n\nReport vulnerabilities privately to the maintainers.\n"
    )
    run(["git", "add", "-A"], destination)
    run(["git", "commit", "--quiet", "--no-verify", "-m", "feat: template 1.1.0"], destination)
    run(["git", "tag", "1.1.0"], destination)
    return destination
