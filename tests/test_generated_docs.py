"""A generated project's own documentation site, and the runbook of every alert.

One installed project (the default answers) builds its site with `just docs`:
mkdocs-material in strict mode, the API reference read from the docstrings by
mkdocstrings through griffe's static analysis. The runbook links are checked on
every answer set's render, which needs no install.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ANSWER_SETS, InstalledProject, load_answers, render

# Key modules of the API reference: the page that documents each, and a heading id
# mkdocstrings gives the module (`<package>.<module>`).
REFERENCE = {
    "config": ["config", "paths", "errors"],
    "models": ["models.base", "models.factory", "models.adapter"],
    "pipeline": ["pipeline.train", "pipeline.register"],
    "registry": ["registry.service", "registry.gates", "registry.provenance"],
    "serving": ["serving.app", "serving.bundle"],
    "monitoring": ["monitoring.drift", "monitoring.policy", "monitoring.retrain"],
    "deployment": ["deployment.service", "deployment.manifests"],
}
PAGES = [
    "index.html",
    "lifecycle/index.html",
    "serving/index.html",
    "drift-and-retraining/index.html",
    "deployment/index.html",
    "model-card/index.html",
    "updating/index.html",
    "runbooks/index.html",
]


@pytest.fixture(scope="module")
def built_site(installed_project: Any) -> tuple[InstalledProject, float]:
    project: InstalledProject = installed_project("defaults")
    started = time.monotonic()
    project.just("docs", timeout=300)
    return project, time.monotonic() - started


def test_just_docs_builds_the_site_strictly(built_site: tuple[InstalledProject, float]) -> None:
    project, seconds = built_site
    site = project.path / "site"
    for page in PAGES:
        assert (site / page).is_file(), f"just docs did not build {page}"
    assert "strict: true" in (project.path / "mkdocs.yml").read_text()
    assert seconds < 120, f"just docs took {seconds:.0f} s"
    # site/ is a build output: git ignores it.
    gitignore = (project.path / ".gitignore").read_text()
    assert re.search(r"^site/$", gitignore, re.MULTILINE)


def test_api_reference_documents_the_key_modules(
    built_site: tuple[InstalledProject, float],
) -> None:
    project, _ = built_site
    for page, modules in REFERENCE.items():
        html = (project.path / "site" / "reference" / page / "index.html").read_text()
        for module in modules:
            anchor = f'id="{project.package}.{module}"'
            assert anchor in html, f"reference/{page} does not document {module}"
    # Docstrings reach the page: the registry's module docstring, word for word.
    registry = (project.path / "site" / "reference" / "registry" / "index.html").read_text()
    assert "semantic versions, stages via aliases, gates, provenance" in registry


def test_every_runbook_is_a_page_of_the_site(built_site: tuple[InstalledProject, float]) -> None:
    project, _ = built_site
    for url in _runbook_urls(project.path).values():
        page = Path(url).relative_to("docs").with_suffix("")
        html = project.path / "site" / page / "index.html"
        assert html.is_file(), f"{url} is not on the built site"


def _runbook_urls(project: Path) -> dict[str, str]:
    rules = yaml.safe_load((project / "infra/monitoring/alerts.yml").read_text())
    return {
        rule["alert"]: rule.get("annotations", {}).get("runbook_url", "")
        for group in rules["groups"]
        for rule in group["rules"]
    }


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_every_alert_has_a_runbook_url_that_resolves(answers: str, tmp_path: Path) -> None:
    project = render(tmp_path / "project", load_answers(answers))
    urls = _runbook_urls(project)
    assert urls, "alerts.yml has no rules"
    missing = sorted(alert for alert, url in urls.items() if not url)
    assert not missing, f"alerts without a runbook_url: {missing}"
    nav = (project / "mkdocs.yml").read_text()
    for alert, url in urls.items():
        assert re.fullmatch(r"docs/runbooks/[a-z0-9-]+\.md", url), f"{alert}: {url}"
        assert (project / url).is_file(), f"{alert}: {url} does not exist"
        assert url.removeprefix("docs/") in nav, f"{alert}: {url} is not in the docs nav"
        text = (project / url).read_text()
        for section in ("## What it means", "## Confirm", "## Mitigate", "## Escalate"):
            assert section in text or section.replace("it means", "they mean") in text, (
                f"{url} lacks {section!r}"
            )
