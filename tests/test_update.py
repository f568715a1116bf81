"""`copier update` keeps generated projects current without losing their users' work.

Everything runs on real git repositories with real tags (see
``template_versions.py``), with ``unsafe=False``: no ``--trust`` is needed.
"""

from __future__ import annotations

import filecmp
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_update
from template_versions import (
    NEW_RECIPE,
    README_LINE_AFTER,
    README_LINE_BEFORE,
    build_template_versions,
)

from conftest import git_commit_all, render, run

pytestmark = pytest.mark.update

IGNORED = {".git", ".venv", "uv.lock", "__pycache__"}
TEAM_MODULE = '''"""Feature engineering owned by the team."""


def identity(value: float) -> float:
    """Return ``value`` unchanged."""
    return value
'''


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template_versions(tmp_path_factory.mktemp("template-versions") / "copier-mlops")


def _copy(
    template_repo: Path, dst: Path, version: str, answers: dict[str, Any] | None = None
) -> Path:
    project = render(dst, answers, src=template_repo, vcs_ref=version)
    git_commit_all(project)
    return project


def _update(project: Path, version: str, answers: dict[str, Any] | None = None) -> None:
    run_update(
        project,
        data=dict(answers or {}),
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        vcs_ref=version,
        conflict="inline",
    )


def _tree(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not IGNORED.intersection(path.relative_to(root).parts)
    }


def _assert_same_tree(left: Path, right: Path) -> None:
    assert _tree(left) == _tree(right)
    different = [
        name
        for name in sorted(_tree(left))
        if not filecmp.cmp(left / name, right / name, shallow=False)
    ]
    assert not different, f"files differ: {different}"


def test_untouched_update_equals_a_fresh_copy(template_repo: Path, tmp_path: Path) -> None:
    updated = _copy(template_repo, tmp_path / "updated", "1.0.0")
    _update(updated, "1.1.0")
    fresh = _copy(template_repo, tmp_path / "fresh", "1.1.0")
    _assert_same_tree(updated, fresh)
    assert "security:" in (updated / "tasks" / "check.just").read_text()


def test_switching_options_leaves_no_stale_files(template_repo: Path, tmp_path: Path) -> None:
    switched = _copy(template_repo, tmp_path / "switched", "1.1.0")
    package = yaml.safe_load((switched / ".copier-answers.yml").read_text())["package_name"]
    assert (switched / ".github" / "workflows" / "ci.yml").is_file()
    options = {"ci_provider": "gitlab", "problem_type": "regression"}
    _update(switched, "1.1.0", options)
    assert not (switched / ".github").exists()
    assert (switched / ".gitlab-ci.yml").is_file()
    assert not (switched / "src" / package / "models" / "classification.py").exists()
    assert (switched / "src" / package / "models" / "regression.py").is_file()
    assert "task: regression" in (switched / "params.yaml").read_text()
    # Identical to a fresh copy with the new answers, which the end-to-end tests check
    # with `just check` (regression + gitlab); lint it here too.
    fresh = _copy(template_repo, tmp_path / "fresh", "1.1.0", options)
    _assert_same_tree(switched, fresh)
    run(["ruff", "check", "--no-cache", "src", "tests"], switched)


def test_copy_and_update_from_an_absolute_path_record_it(
    template_repo: Path, tmp_path: Path
) -> None:
    project = _copy(template_repo, tmp_path / "project", "1.0.0")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert Path(answers["_src_path"]).is_absolute()
    assert answers["_commit"] == "1.0.0"
    _update(project, "1.1.0")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "1.1.0"


def test_update_recipe_refuses_a_relative_template_path(
    template_repo: Path, tmp_path: Path
) -> None:
    project = _copy(template_repo, tmp_path / "project", "1.0.0")
    answers = project / ".copier-answers.yml"
    answers.write_text(
        re.sub(r"^_src_path: .*$", "_src_path: ../copier-mlops", answers.read_text(), flags=re.M)
    )
    git_commit_all(project, "chore: relative source")
    result = run(["just", "update"], project, check=False)
    assert result.returncode == 2
    assert "relative path" in result.stderr
    assert "absolute path or a URL" in result.stderr


def test_update_recipe_refuses_a_dirty_tree(template_repo: Path, tmp_path: Path) -> None:
    project = _copy(template_repo, tmp_path / "project", "1.0.0")
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# wip\n")
    result = run(["just", "update"], project, check=False)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr


@pytest.fixture(scope="module")
def installed_at_1_0_0(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = _copy(template_repo, tmp_path_factory.mktemp("installed") / "project", "1.0.0")
    run(["just", "install"], project)
    git_commit_all(project, "build: lock dependencies")
    return project


def test_conflicts_are_reported_and_nothing_is_dropped(installed_at_1_0_0: Path) -> None:
    project = installed_at_1_0_0
    readme = project / "README.md"
    readme.write_text(
        readme.read_text().replace(README_LINE_BEFORE, "`just` alone lists what we run daily.", 1)
    )
    git_commit_all(project, "docs: our wording")
    result = run(["just", "update", "-r", "1.1.0"], project, check=False)
    assert result.returncode == 1
    assert "README.md" in result.stderr
    assert "conflicts" in result.stderr
    text = readme.read_text()
    assert "<<<<<<< before updating" in text
    assert "`just` alone lists what we run daily." in text
    assert README_LINE_AFTER in text
    assert not list(project.rglob("*.rej"))
    # Undo the update attempt for the next scenario.
    run(["git", "reset", "--quiet", "--hard", "HEAD~1"], project)
    run(["git", "clean", "-fdq"], project)


def test_user_edits_survive_an_update_that_passes_check_and_pipeline(
    installed_at_1_0_0: Path,
) -> None:
    project = installed_at_1_0_0
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    edits = {
        "CHANGELOG.md": "\n- Team note: first model shipped.\n",
        "README.md": "\n## Team notes\n\nOn call: the ML platform team.\n",
        f"src/{package}/models/classification.py": "\n# Team note: keep every strategy seeded.\n",
        "tasks/local.just": "\n# Say hello\nhello:\n    @echo hello\n",
    }
    for name, addition in edits.items():
        path = project / name
        path.write_text(path.read_text() + addition)
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("test_size: 0.2", "test_size: 0.25", 1))
    module = project / "src" / package / "features.py"
    module.write_text(TEAM_MODULE)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            '    "numpy>=2.1",\n', '    "numpy>=2.1",\n    "packaging>=24",\n', 1
        )
    )
    git_commit_all(project, "feat: team edits")

    run(["just", "update", "-r", "1.1.0"], project, timeout=1800)

    for name, addition in edits.items():
        assert addition in (project / name).read_text(), f"edit to {name} was lost"
    assert "test_size: 0.25" in params.read_text()
    assert module.is_file()
    assert '"packaging>=24",' in pyproject.read_text()
    assert NEW_RECIPE.strip() in (project / "tasks" / "check.just").read_text()
    assert README_LINE_AFTER in (project / "README.md").read_text()
    assert (project / "SECURITY.md").is_file()
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "1.1.0"
    assert "hello" in run(["just", "--list"], project).stdout
    git_commit_all(project, "chore: update from the template")
    run(["just", "pipeline"], project, timeout=1800)
    assert (project / "reports" / "registration.json").is_file()
