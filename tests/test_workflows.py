"""Every generated CI file is valid for its CI service, for every answer that shapes it.

GitHub workflows go through actionlint (expressions, runner labels, action inputs,
and every `run:` script through shellcheck) and the GitHub workflow JSON schema;
`.gitlab-ci.yml` through GitLab's CI schema. Both schemas ship with
check-jsonschema, so this runs offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import TEMPLATE_ROOT, render, run

TOOLS = TEMPLATE_ROOT / ".venv" / "bin"

# Answer combinations that change what the CI files say (provider and Python version).
COMBINATIONS: dict[str, dict[str, Any]] = {
    "github-3.12": {"ci_provider": "github"},
    "github-3.11-regression": {
        "ci_provider": "github",
        "python_version": "3.11",
        "problem_type": "regression",
    },
    "gitlab-3.12": {"ci_provider": "gitlab"},
    "gitlab-3.13": {"ci_provider": "gitlab", "python_version": "3.13"},
    "none": {"ci_provider": "none"},
}


@pytest.fixture(scope="module", params=sorted(COMBINATIONS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp(request.param) / "project", COMBINATIONS[request.param])


def _provider(project: Path) -> str:
    answers = (project / ".copier-answers.yml").read_text()
    return next(
        line.split(":", 1)[1].strip()
        for line in answers.splitlines()
        if line.startswith("ci_provider:")
    )


def _github_workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def test_each_provider_gets_only_its_own_ci_files(rendered: Path) -> None:
    provider = _provider(rendered)
    assert (rendered / ".github").is_dir() == (provider == "github")
    assert (rendered / ".gitlab-ci.yml").is_file() == (provider == "gitlab")


def test_github_workflows_pass_actionlint(rendered: Path) -> None:
    workflows = _github_workflows(rendered)
    if _provider(rendered) != "github":
        assert workflows == []
        return
    assert workflows, "the github answer renders no workflow"
    result = run(
        [str(TOOLS / "actionlint"), "-no-color", *map(str, workflows)], rendered, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_workflows_match_the_workflow_schema(rendered: Path) -> None:
    workflows = _github_workflows(rendered)
    if not workflows:
        pytest.skip("no GitHub workflows for this answer")
    schema = ["--builtin-schema", "vendor.github-workflows"]
    result = run([str(TOOLS / "check-jsonschema"), *schema, *map(str, workflows)], rendered)
    assert "ok -- validation done" in result.stdout


def test_gitlab_ci_matches_gitlab_schema(rendered: Path) -> None:
    gitlab_ci = rendered / ".gitlab-ci.yml"
    if not gitlab_ci.is_file():
        pytest.skip("no GitLab CI file for this answer")
    schema = ["--builtin-schema", "vendor.gitlab-ci"]
    result = run([str(TOOLS / "check-jsonschema"), *schema, str(gitlab_ci)], rendered)
    assert "ok -- validation done" in result.stdout


def test_broken_workflows_are_caught(tmp_path: Path) -> None:
    """The validators reject what they should, so a green run above means something."""
    workflow = tmp_path / "broken.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.evnt.name }}\n      - run: rm -r $TARGET/*\n"
    )
    linted = run([str(TOOLS / "actionlint"), "-no-color", str(workflow)], tmp_path, check=False)
    assert linted.returncode != 0
    assert "evnt" in linted.stdout
    assert "SC2086" in linted.stdout  # run: scripts go through shellcheck too
    gitlab_ci = tmp_path / ".gitlab-ci.yml"
    gitlab_ci.write_text("check:\n  script: just check\n  when: sometimes\n")
    schema = ["--builtin-schema", "vendor.gitlab-ci"]
    checked = run([str(TOOLS / "check-jsonschema"), *schema, str(gitlab_ci)], tmp_path, check=False)
    assert checked.returncode != 0
