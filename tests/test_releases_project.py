"""Releases of a generated project: `just release` and stock commitizen, from a fresh repository.

One installed project (generated, committed, `just install`-ed, lock committed; no
pipeline) goes through its first releases in order: nothing to release yet, a `feat:`
commit, the dry runs (stock `cz bump --dry-run` and `just release --dry-run`, the latter
in a repository without any tag), the release the dry run named, and a second release
with nothing new.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import InstalledProject, run

pytestmark = pytest.mark.e2e

STOCK_DRY_RUN = ["uv", "run", "--frozen", "cz", "bump", "--dry-run"]


def _git(path: Path, *args: str) -> str:
    return run(["git", *args], path).stdout.strip()


def _state(path: Path) -> tuple[str, str, str]:
    """What a dry run must not change: the working tree, the tags and HEAD."""
    return (
        _git(path, "status", "--porcelain"),
        _git(path, "tag", "--list"),
        _git(path, "rev-parse", "HEAD"),
    )


def _own_errors(stderr: str) -> list[str]:
    """The recipe's output on stderr, without just's own `error: recipe … failed` line."""
    return [line for line in stderr.splitlines() if not line.startswith("error: recipe `")]


def test_first_release_from_a_fresh_repository(installed_project: Any) -> None:
    project: InstalledProject = installed_project("defaults", "release")
    path = project.path
    generating_commit = _git(path, "rev-list", "--max-parents=0", "HEAD")
    # `just install` tagged the generating commit with the generated version, where
    # CHANGELOG.md starts: the tag releases count from.
    assert _git(path, "tag", "--list") == "v0.1.0"
    assert _git(path, "rev-parse", "v0.1.0^{commit}") == generating_commit
    assert "## v0.1.0" in (path / "CHANGELOG.md").read_text()

    # Nothing to release yet (chore and build commits): stock commitizen says so without
    # a question or a traceback, the recipe in one line; neither changes anything.
    fresh = _state(path)
    stock = run(STOCK_DRY_RUN, path, check=False)
    assert stock.returncode == 21, stock.stdout + stock.stderr
    assert "NO_COMMITS_TO_BUMP" in stock.stderr
    assert "Traceback" not in stock.stdout + stock.stderr
    nothing = project.just("release", "--dry-run", check=False)
    assert nothing.returncode == 2
    (line,) = _own_errors(nothing.stderr)
    assert line.startswith("error: nothing to release: no feat, fix"), line
    assert _state(path) == fresh

    run(
        [
            "git",
            "commit",
            "--quiet",
            "--allow-empty",
            "--no-verify",
            "-m",
            "feat: score batches faster",
        ],
        path,
    )
    before = _state(path)
    stock = run(STOCK_DRY_RUN, path)
    assert "tag to create: v0.2.0" in stock.stdout
    assert "- score batches faster" in stock.stdout
    assert _state(path) == before

    # As if `just install` ran before the first commit: no tag at all. The dry run names
    # the version, shows the section, and still creates no tag, not even the baseline.
    run(["git", "tag", "--delete", "v0.1.0"], path)
    untagged = _state(path)
    dry = project.just("release", "--dry-run")
    assert f"would tag {generating_commit[:7]} v0.1.0 first" in dry.stdout
    assert "## v0.2.0" in dry.stdout
    named = re.search(r"^dry run: would release (v\S+) ", dry.stdout, re.MULTILINE)
    assert named, dry.stdout
    assert _state(path) == untagged
    assert _git(path, "tag", "--list") == ""

    release = project.just("release")
    version = named.group(1)
    assert f"released {version} " in release.stdout
    assert _git(path, "tag", "--list").split() == ["v0.1.0", version]
    assert _git(path, "rev-parse", f"{version}^{{commit}}") == _git(path, "rev-parse", "HEAD")
    assert _git(path, "rev-parse", "v0.1.0^{commit}") == generating_commit
    assert _git(path, "status", "--porcelain") == ""
    assert f'version = "{version[1:]}"' in (path / "pyproject.toml").read_text()
    changelog = (path / "CHANGELOG.md").read_text()
    section = changelog.split(f"## {version} ", 1)[1].split("\n## ", 1)[0]
    assert "- score batches faster" in section
    assert changelog.index(f"## {version} ") < changelog.index("## v0.1.0")
    # The annotated tag carries the section: the notes `gh release create --notes-from-tag` uses.
    assert "- score batches faster" in _git(path, "tag", "--list", "--format=%(contents)", version)

    # A second release with nothing new: one line, nothing changed.
    released = _state(path)
    again = project.just("release", check=False)
    assert again.returncode == 2
    assert _own_errors(again.stderr) == [
        f"error: nothing to release: no feat, fix, refactor, perf or breaking-change commit "
        f"since {version}; to release anyway: just release --increment PATCH"
    ]
    assert _state(path) == released
