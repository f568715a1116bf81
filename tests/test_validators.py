"""Bad answers are refused with a message that says what is accepted, and leave nothing behind."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import TEMPLATE_ROOT, render, run

IDENTIFIER = (
    "The package name must be a valid lowercase Python identifier: a letter, then letters, "
    'digits or underscores (e.g. churn_model); got "{value}".'
)
RESERVED = (
    'The package name "{value}" is a Python keyword, a standard-library module or a dependency '
    "of the generated project; choose another (e.g. {value}_model)."
)
SLUG = (
    "The repository slug must be lowercase letters and digits separated by single hyphens, "
    'starting with a letter (e.g. churn-model); got "{value}".'
)
EMAIL = 'The author email must look like name@example.com; got "{value}".'
DESCRIPTION_QUOTES = (
    "The description must not contain double quotes or backslashes (it is written into "
    "pyproject.toml and a docstring); use single quotes instead."
)
REGISTRY = (
    "The container registry must be a lowercase registry host with an optional port and "
    'namespace, without scheme or tag (e.g. ghcr.io/my-org or localhost:5000/ml); got "{value}".'
)
AUTHOR_QUOTES = "The author name must be one line without double quotes or backslashes."

# (question, bad answer, the exact message copier must show)
REFUSALS = [
    pytest.param("package_name", "class", RESERVED, id="package-keyword"),
    pytest.param("package_name", "os", RESERVED, id="package-stdlib-os"),
    pytest.param("package_name", "json", RESERVED, id="package-stdlib-json"),
    pytest.param("package_name", "sklearn", RESERVED, id="package-dependency"),
    pytest.param("package_name", "Bad-Name", IDENTIFIER, id="package-hyphen-uppercase"),
    pytest.param("package_name", "1abc", IDENTIFIER, id="package-leading-digit"),
    pytest.param(
        "package_name",
        "a" * 33,
        "The package name must be at most 32 characters; got 33.",
        id="package-too-long",
    ),
    pytest.param("project_slug", "Bad_slug", SLUG, id="slug-underscore-uppercase"),
    pytest.param("project_slug", "-x", SLUG, id="slug-leading-hyphen"),
    pytest.param(
        "project_name", "", "The project name must not be empty.", id="project-name-empty"
    ),
    pytest.param(
        "project_name", "   ", "The project name must not be empty.", id="project-name-blank"
    ),
    pytest.param(
        "project_name",
        "x" * 81,
        "The project name must be at most 80 characters.",
        id="project-name-too-long",
    ),
    pytest.param("author_email", "nope", EMAIL, id="email-no-at"),
    pytest.param("container_registry", "https://ghcr.io/org", REGISTRY, id="registry-scheme"),
    pytest.param("container_registry", "ghcr.io/Org", REGISTRY, id="registry-uppercase"),
    pytest.param("container_registry", "ghcr.io/org/app:1.0", REGISTRY, id="registry-tag"),
    pytest.param("container_registry", "ghcr.io/org/", REGISTRY, id="registry-trailing-slash"),
    pytest.param("container_registry", "", REGISTRY, id="registry-empty"),
    pytest.param("author_email", "a@b", EMAIL, id="email-no-domain"),
    pytest.param(
        "description",
        "First line.\nSecond line.",
        "The description must be a single line.",
        id="description-newline",
    ),
    # Both end up inside a TOML string (and the description inside a docstring).
    pytest.param("description", 'Says "hi".', DESCRIPTION_QUOTES, id="description-quote"),
    pytest.param(
        "description", r"Reads C:\Users\data.", DESCRIPTION_QUOTES, id="description-backslash"
    ),
    pytest.param("author_name", 'Ann "AJ" Lee', AUTHOR_QUOTES, id="author-quote"),
    pytest.param("author_name", r"CORP\ann", AUTHOR_QUOTES, id="author-backslash"),
    pytest.param("author_name", "Ann\nLee", AUTHOR_QUOTES, id="author-newline"),
    pytest.param(
        "copyright_year",
        "99",
        'The copyright year must be a four-digit year such as 2026; got "99".',
        id="year-two-digits",
    ),
]


def assert_nothing_left(parent: Path) -> None:
    leftovers = sorted(str(path.relative_to(parent)) for path in parent.rglob("*"))
    assert not leftovers, f"a refused copy left files behind: {leftovers}"


@pytest.mark.parametrize(("question", "answer", "message"), REFUSALS)
def test_bad_answer_is_refused(tmp_path: Path, question: str, answer: str, message: str) -> None:
    destination = tmp_path / "project"
    with pytest.raises(ValueError, match=r"^Validation error for question") as refused:
        render(destination, {question: answer})
    expected = message.format(value=answer)
    assert str(refused.value) == f"Validation error for question '{question}': {expected}"
    assert not destination.exists()
    assert_nothing_left(tmp_path)


def test_refusal_keeps_an_existing_destination_empty(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    destination.mkdir()
    with pytest.raises(ValueError, match="Validation error for question 'package_name'"):
        render(destination, {"package_name": "json"})
    assert destination.is_dir()
    assert_nothing_left(destination)


def test_good_non_default_answers_are_accepted(tmp_path: Path) -> None:
    """Unusual but valid answers, several at the edge of what the validators accept."""
    answers = {
        "project_name": "Zeta 9 Churn.Model_v2 - " + "x" * 56,  # exactly 80 characters
        "project_slug": "z" + "-a1" * 21,  # exactly 64 characters
        "package_name": "z" + "_9" * 15 + "q",  # exactly 32 characters
        "description": "Prédit l'attrition — deux classes, 100 % hors ligne.",
        "author_name": "Ånne O'Brien-Ng",
        "author_email": "anne.o-brien+ml@sub.example.co.uk",
        "license": "Apache-2.0",
        "copyright_year": "1999",
        "python_version": "3.13",
        "problem_type": "regression",
        "ci_provider": "none",
        "container_registry": "localhost:5000/ml-team/models",
    }
    assert len(answers["project_name"]) == 80
    assert len(answers["project_slug"]) == 64
    assert len(answers["package_name"]) == 32
    project = render(tmp_path / "project", answers)
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {key: recorded[key] for key in answers} == answers
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["name"] == answers["project_slug"]
    assert meta["description"] == answers["description"]
    assert meta["authors"] == [{"name": "Ånne O'Brien-Ng", "email": answers["author_email"]}]
    assert (project / "src" / answers["package_name"] / "models" / "regression.py").is_file()


def test_cli_refuses_bad_answer_and_leaves_no_directory(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    result = run(
        [
            "uv",
            "run",
            "--frozen",
            "copier",
            "copy",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "-d",
            "package_name=os",
            str(TEMPLATE_ROOT),
            str(destination),
        ],
        TEMPLATE_ROOT,
        check=False,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Validation error for question 'package_name'" in output
    assert RESERVED.format(value="os") in " ".join(output.split())
    assert not destination.exists()
    assert_nothing_left(tmp_path)
