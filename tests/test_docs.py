"""The documentation site builds strictly and keeps up with the template.

Every question in ``copier.yml`` has its page naming its default and choices,
and every recipe a generated project lists is described in the guide to the
generated project. No install is needed: only Copier, just and mkdocs run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import TEMPLATE_ROOT, render, run

DOCS = TEMPLATE_ROOT / "docs"
GENERATED_DOCS = TEMPLATE_ROOT / "template" / "docs"
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$', re.MULTILINE)
GENERATED_PROJECT_PAGE = DOCS / "generated-project.md"


def _questions() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return {key: spec for key, spec in config.items() if not key.startswith("_")}


QUESTIONS = _questions()


def _choice_values(spec: dict[str, Any]) -> list[str]:
    choices = spec.get("choices", [])
    values = choices.values() if isinstance(choices, dict) else choices
    return [str(value) for value in values]


def _recipe_names(listing: str) -> tuple[list[str], list[str]]:
    """Recipes and modules from ``just --list`` output (group headers skipped)."""
    recipes: list[str] = []
    modules: list[str] = []
    for line in listing.splitlines()[1:]:
        entry = line.split("#", 1)[0].strip()
        if not entry or entry.startswith("["):
            continue
        name, *rest = entry.split()
        (modules if rest == ["..."] else recipes).append(name)
    return recipes, modules


def test_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    run(["uv", "run", "--frozen", "mkdocs", "build", "--strict", "-d", str(site)], TEMPLATE_ROOT)
    assert (site / "index.html").is_file()
    assert (site / "questions" / "index.html").is_file()


def test_questions_page_links_to_the_section() -> None:
    assert "questions/index.md" in (DOCS / "questions.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_every_question_has_a_page_with_its_default_and_choices(question: str) -> None:
    page = DOCS / "questions" / f"{question}.md"
    assert page.is_file(), f"docs/questions/{question}.md is missing"
    text = page.read_text(encoding="utf-8")
    spec = QUESTIONS[question]
    assert str(spec["default"]) in text, f"{page.name} does not mention the default"
    missing = [value for value in _choice_values(spec) if f"`{value}`" not in text]
    assert not missing, f"{page.name} does not mention the choices {missing}"


def test_questions_are_indexed_and_in_the_nav() -> None:
    index = (DOCS / "questions" / "index.md").read_text(encoding="utf-8")
    nav = (TEMPLATE_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for question in QUESTIONS:
        assert f"({question}.md)" in index, f"questions/index.md does not link {question}.md"
        assert f"questions/{question}.md" in nav, f"mkdocs.yml nav lacks {question}.md"


def test_every_recipe_of_a_generated_project_is_documented(tmp_path: Path) -> None:
    project = render(tmp_path / "project")
    justfile = str(project / "justfile")
    listing = run(["just", "--list", "--justfile", justfile], project).stdout
    recipes, modules = _recipe_names(listing)
    assert {"install", "check", "package", "pipeline"} <= set(recipes)
    page = GENERATED_PROJECT_PAGE.read_text(encoding="utf-8")
    undocumented = [name for name in recipes if not re.search(rf"`just {name}\b", page)]
    for module in modules:
        module_listing = run(["just", "--list", module, "--justfile", justfile], project).stdout
        module_recipes, _ = _recipe_names(module_listing)
        assert module_recipes, f"module {module} lists no recipes"
        undocumented += [
            f"{module} {name}"
            for name in module_recipes
            if not re.search(rf"`just {module} {name}\b", page)
        ]
    assert not undocumented, f"docs/generated-project.md does not describe: {undocumented}"


def _paragraphs(text: str) -> set[str]:
    """Prose paragraphs and table rows long enough that a repeat is a copy, not a phrase."""
    blocks = [" ".join(block.split()) for block in re.split(r"\n\s*\n|\n(?=\|)", text)]
    return {block for block in blocks if len(block) >= 120 and not block.startswith("<!--")}


def test_text_shared_with_the_generated_docs_is_kept_once() -> None:
    """A generated page's text reaches the template's site by inclusion, never by copy."""
    generated = set().union(
        *(_paragraphs(page.read_text(encoding="utf-8")) for page in GENERATED_DOCS.rglob("*.md*"))
    )
    copies = {
        f"{page.relative_to(DOCS)}: {paragraph[:80]}..."
        for page in DOCS.rglob("*.md")
        for paragraph in _paragraphs(page.read_text(encoding="utf-8")) & generated
    }
    assert not copies, "paragraphs copied from template/docs instead of included:\n" + "\n".join(
        sorted(copies)
    )


def test_included_sections_exist_in_the_generated_docs() -> None:
    pages = [page.read_text(encoding="utf-8") for page in DOCS.rglob("*.md")]
    includes = [match for text in pages for match in SNIPPET.finditer(text)]
    assert includes, "the template's site includes nothing from template/docs"
    for match in includes:
        source = TEMPLATE_ROOT / match["path"]
        assert source.is_relative_to(GENERATED_DOCS), f"{match[0]} includes outside template/docs"
        text = source.read_text(encoding="utf-8")
        assert f"<!-- --8<-- [start:{match['section']}] -->" in text, f"{match[0]}: no such section"
        section = text.split(f"[start:{match['section']}] -->", 1)[1].split("<!-- --8<-- [end:")[0]
        assert "{{" not in section, f"{match[0]} includes Jinja"
        assert "{%" not in section, f"{match[0]} includes Jinja"
