"""Every generated CI file is valid for its CI service, for every answer that shapes it.

GitHub workflows go through actionlint (expressions, runner labels, action inputs,
and every `run:` script through shellcheck) and the GitHub workflow JSON schema; the
composite action and dependabot.yml through their schemas; `.gitlab-ci.yml` through
GitLab's CI schema. The schemas ship with check-jsonschema, so this runs offline.
The policy every workflow keeps (least-privilege permissions per job, actions pinned
to a commit, timeouts, secrets only by name, documented) and that every `just`
recipe a CI file calls exists are checked here; tests/test_workflow_replay.py runs them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import TEMPLATE_ROOT, render, run

TOOLS = TEMPLATE_ROOT / ".venv" / "bin"
CI_DOCS = TEMPLATE_ROOT / "docs" / "ci-cd.md"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses: \S+@[0-9a-f]{40} # v\d+(\.\d+)*$", re.MULTILINE)
# `just <recipe> [<module recipe>]` where a shell command starts (not inside a message).
JUST_CALL = re.compile(
    r"(?:^|[;&|(]|\bthen|\belse|\bdo)\s*just\s+([a-z][\w-]*)(?:\s+([a-z][\w-]*))?",
    re.MULTILINE,
)
SECRET = re.compile(r"secrets\.([A-Z][A-Z0-9_]*)")
# Recipes a CI file may call that a generated project does not define, and why.
OPTIONAL_RECIPES: dict[str, str] = {}

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


def _run_scripts(project: Path) -> dict[str, list[str]]:
    """Every shell script a CI file runs, by file: `run:` steps and GitLab script lines."""
    scripts: dict[str, list[str]] = {}
    for path in [*_github_workflows(project), *(project / ".github").glob("actions/*/action.yml")]:
        data = yaml.safe_load(path.read_text())
        jobs = data.get("jobs") or {"action": data["runs"]}
        scripts[path.name] = [
            str(step["run"]) for job in jobs.values() for step in job["steps"] if "run" in step
        ]
    gitlab_ci = project / ".gitlab-ci.yml"
    if gitlab_ci.is_file():
        config = yaml.safe_load(gitlab_ci.read_text())
        scripts[gitlab_ci.name] = [
            str(line)
            for job in config.values()
            if isinstance(job, dict)
            for key in ("before_script", "script")
            for line in job.get(key, [])
        ]
    return scripts


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


def test_actions_and_dependabot_match_their_schemas(rendered: Path) -> None:
    github = rendered / ".github"
    if not github.is_dir():
        pytest.skip("no GitHub files for this answer")
    for schema, files in (
        ("vendor.github-actions", sorted(github.glob("actions/*/action.yml"))),
        ("vendor.dependabot", [github / "dependabot.yml"]),
    ):
        assert files, schema
        checked = run(
            [str(TOOLS / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
            rendered,
        )
        assert "ok -- validation done" in checked.stdout


def test_dependabot_updates_every_ecosystem_weekly_in_groups(rendered: Path) -> None:
    config = rendered / ".github" / "dependabot.yml"
    if not config.is_file():
        pytest.skip("no GitHub files for this answer")
    updates = yaml.safe_load(config.read_text())["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"uv", "github-actions", "docker"}
    for update in updates:
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], update


def test_workflows_keep_least_privilege_pins_and_timeouts(rendered: Path) -> None:
    """Per job: its own `permissions`, a timeout; every action pinned to a commit."""
    for path in _github_workflows(rendered):
        text = path.read_text()
        workflow = yaml.safe_load(text)
        assert workflow["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}:{name} has no permissions"
            assert "write-all" not in str(job["permissions"]), f"{path.name}:{name}"
            assert job["timeout-minutes"] <= 90, f"{path.name}:{name}"
    for path in [*_github_workflows(rendered), *rendered.glob(".github/actions/*/action.yml")]:
        text = path.read_text()
        uses = re.findall(r"uses: (\S+)", text)
        for action in uses:
            assert action.startswith("./") or PINNED.match(action), f"{path.name}: {action}"
        assert len(VERSION_COMMENT.findall(text)) == sum(not a.startswith("./") for a in uses)


def test_ci_files_call_only_recipes_the_project_has(rendered: Path) -> None:
    scripts = _run_scripts(rendered)
    if not scripts:
        pytest.skip("no CI files for this answer")
    summary = run([str(TOOLS / "just"), "--summary"], rendered).stdout.split()
    modules = {name.split("::")[0] for name in summary if "::" in name}
    called: set[str] = set()
    for texts in scripts.values():
        for text in texts:
            for first, second in JUST_CALL.findall(text):
                called.add(f"{first}::{second}" if first in modules else first)
    missing = called - set(summary) - set(OPTIONAL_RECIPES)
    assert not missing, f"CI files call recipes the justfile lacks: {sorted(missing)}"
    assert {
        "check-all",
        "audit",
        "package",
        "repro",
        "deploy",
        "rollback",
        "drift",
        "retrain",
    } <= called


def test_docs_are_built_on_every_release_and_deployed_behind_their_switch(rendered: Path) -> None:
    publish = rendered / ".github" / "workflows" / "publish.yml"
    gitlab_ci = rendered / ".gitlab-ci.yml"
    if publish.is_file():
        jobs = yaml.safe_load(publish.read_text())["jobs"]
        assert "if" not in jobs["docs"]
        assert any(step.get("run") == "just docs" for step in jobs["docs"]["steps"])
        assert jobs["pages"]["needs"] == "docs"
        assert jobs["pages"]["if"] == "vars.PUBLISH_DOCS == 'true'"
        assert any("deploy-pages" in step.get("uses", "") for step in jobs["pages"]["steps"])
    elif gitlab_ci.is_file():
        pages = yaml.safe_load(gitlab_ci.read_text())["pages"]
        assert pages["script"][0] == "just docs"
        assert pages["artifacts"]["paths"] == ["public"]
        assert '$PUBLISH_DOCS == "true"' in pages["rules"][0]["if"]
    else:
        pytest.skip("no CI files for this answer")


def test_every_workflow_and_secret_is_documented(rendered: Path) -> None:
    docs = CI_DOCS.read_text()
    files = [*_github_workflows(rendered), rendered / ".gitlab-ci.yml"]
    for path in files:
        if not path.is_file():
            continue
        assert f"`{path.name}`" in docs, f"{path.name} is not described in docs/ci-cd.md"
        text = path.read_text()
        for secret in set(SECRET.findall(text)):
            assert f"`{secret}`" in docs, f"secret {secret} ({path.name}) is not documented"
        assert not re.search(r"(password|token|key)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{20,}", text, re.I)
