"""The template needs no `--trust`, and copier.yml's settings are explicit and coherent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from packaging.version import Version
from pathspec import PathSpec

from conftest import ANSWER_SETS, TEMPLATE_ROOT, load_answers, render

CONFIG: dict[str, Any] = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
QUESTIONS: dict[str, dict[str, Any]] = {
    name: spec for name, spec in CONFIG.items() if not name.startswith("_")
}
# Settings that run code or load code on the user's machine: each would require --trust.
UNSAFE_SETTINGS = ("_tasks", "_migrations", "_jinja_extensions", "_external_data")


@pytest.fixture(scope="module")
def safe_renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every supported answer set, rendered with ``unsafe=False`` (what users get without trust)."""
    return {
        name: render(tmp_path_factory.mktemp(f"safe-{name}") / "project", load_answers(name))
        for name in ANSWER_SETS
    }


def rendered_files(project: Path) -> list[str]:
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())


@pytest.mark.parametrize("setting", UNSAFE_SETTINGS)
def test_no_setting_that_needs_trust(setting: str) -> None:
    assert setting not in CONFIG


def test_copier_yml_is_a_single_plain_document() -> None:
    """No `!include` or second document could smuggle unsafe settings in."""
    text = (TEMPLATE_ROOT / "copier.yml").read_text()
    assert "!include" not in text
    assert len(list(yaml.safe_load_all(text))) == 1
    assert not (TEMPLATE_ROOT / "copier.yaml").exists()


@pytest.mark.parametrize("name", ANSWER_SETS)
def test_renders_without_trust(name: str, safe_renders: dict[str, Path]) -> None:
    project = safe_renders[name]
    assert (project / "pyproject.toml").is_file()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert set(QUESTIONS) <= set(answers)


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_question_has_help_type_and_default(question: str) -> None:
    spec = QUESTIONS[question]
    assert isinstance(spec.get("help"), str)
    assert spec["help"].strip(), f"{question} has no help text"
    assert spec.get("type") == "str"
    assert str(spec.get("default", "")).strip(), f"{question} has no default"


@pytest.mark.parametrize(
    "question", sorted(name for name, spec in QUESTIONS.items() if not spec.get("choices"))
)
def test_free_text_question_has_validator(question: str) -> None:
    validator = QUESTIONS[question].get("validator")
    assert isinstance(validator, str)
    assert "{%" in validator, f"{question}'s validator should be a Jinja check"


def test_exclude_is_explicit() -> None:
    exclude = CONFIG.get("_exclude")
    assert isinstance(exclude, list)
    assert {".git", "__pycache__", "copier.yml"} <= set(exclude)


def test_subdirectory_and_answers_file() -> None:
    assert CONFIG["_subdirectory"] == "template"
    assert CONFIG["_answers_file"] == ".copier-answers.yml"
    assert (TEMPLATE_ROOT / "template" / ".copier-answers.yml.jinja").is_file()


def test_min_copier_version_is_set_and_satisfied() -> None:
    minimum = CONFIG.get("_min_copier_version")
    assert isinstance(minimum, str)
    assert minimum
    assert Version(minimum) >= Version("9")
    assert Version(copier.__version__) >= Version(minimum)


@pytest.mark.parametrize("pattern", CONFIG.get("_skip_if_exists") or [])
def test_skip_if_exists_matches_a_rendered_file(
    pattern: str, safe_renders: dict[str, Path]
) -> None:
    """A `_skip_if_exists` entry that matches nothing protects nothing (typo or stale path)."""
    spec = PathSpec.from_lines("gitignore", [pattern])
    matches = {
        name: [path for path in rendered_files(project) if spec.match_file(path)]
        for name, project in safe_renders.items()
    }
    assert any(matches.values()), f"{pattern!r} matches no file of {sorted(safe_renders)}"


def test_skip_if_exists_is_a_list() -> None:
    skip = CONFIG.get("_skip_if_exists")
    assert isinstance(skip, list)
    assert skip


def test_message_after_copy_mentions_just_install() -> None:
    message = CONFIG.get("_message_after_copy")
    assert isinstance(message, str)
    assert "just install" in message
