"""Every CI job's commands run, in the order the YAML gives, inside a generated project.

The commands come from the generated CI files themselves: a GitHub job's steps (with
the project's composite action spliced in, `${{ }}` expressions evaluated, `if:`
conditions honoured, `$GITHUB_OUTPUT`/`$GITHUB_ENV`/`$GITHUB_STEP_SUMMARY` files
provided) and a GitLab job's `before_script` + `script` lines. So a workflow that
calls a recipe which does not exist, or fails, fails here.

What cannot exist on this machine is replaced, and said so:

- `FAKES`: executables put first on PATH that record their arguments and succeed:
  docker and buildah (no daemon, no registry: `just docker` still exports and verifies
  the real bundle, then hands the build to the fake), cosign (no Sigstore, no OIDC
  token), gh (no GitHub API), syft (no registry to scan).
- `ACTIONS`: `uses:` steps of third-party actions are not replayed (they are GitHub's
  runtime: checkout, caches, artifacts, registry login, SBOM, Pages); the SBOM action's
  output file is written as a minimal SPDX document, since later steps attest it. The
  local composite action is replayed.
- `SKIPPED`: shell lines that install tools from the internet or upload to a hosted
  registry, and `just check-all`, whose parts test_e2e already runs in every answer set; each
  with its reason.
- `just audit` needs the vulnerability database on the network: when pip-audit cannot
  reach it here, the replay notes it and goes on (CI runs it for real).
- No cluster: `just deploy` renders the manifests and says kubectl has no context.

The GitHub project replays a lifecycle: ci → model-release → deploy (staging, then
production with promotion) → publish → retrain → a second version → rollback. The
GitLab project replays check, model-release, both deploys, publish and retrain.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import InstalledProject, git_commit_all, run, subprocess_env

pytestmark = pytest.mark.e2e

# -- What cannot exist here -------------------------------------------------------------------

_RECORD = 'printf "%s\\n" "$(basename "$0") $*" >> "$FAKE_LOG"\n'
FAKES: dict[str, str] = {
    # No Docker daemon or registry: build and push succeed; inspect shows a registry digest.
    "docker": _RECORD
    + """case "$1" in
  image) ref="$3"; digest=$(printf %s "$ref" | sha256sum | cut -c1-64)
         printf '[{"RepoDigests": ["%s@sha256:%s"]}]\\n' "${ref%:*}" "$digest" ;;
esac
""",
    # buildah push --digestfile FILE REF: write the digest a registry would return.
    "buildah": _RECORD
    + """if [ "$1" = push ] && [ "$2" = --digestfile ]; then
  printf 'sha256:%s\\n' "$(printf %s "$4" | sha256sum | cut -c1-64)" > "$3"
fi
""",
    # No Sigstore: signing and attesting are recorded; an attested predicate must exist.
    "cosign": _RECORD
    + """while [ $# -gt 0 ]; do
  if [ "$1" = --predicate ] && [ ! -s "$2" ]; then echo "no predicate $2" >&2; exit 1; fi
  shift
done
""",
    "gh": _RECORD,
    # syft scan SOURCE --output spdx-json=FILE: write a minimal SPDX document.
    "syft": _RECORD
    + """file=${4#spdx-json=}; mkdir -p "$(dirname "$file")"
printf '{"spdxVersion": "SPDX-2.3", "name": "%s"}\\n' "$2" > "$file"
""",
}
ACTIONS = {
    "actions/checkout": "the project is already checked out",
    "astral-sh/setup-uv": "uv comes from the template's venv; its cache is this machine's",
    "actions/upload-artifact": "artifacts are left in the project and checked by the test",
    "docker/login-action": "no registry to log in to (the docker fake needs none)",
    "anchore/sbom-action": "no registry image to scan: a minimal SPDX file stands in",
    "sigstore/cosign-installer": "cosign is the fake on PATH",
    "actions/upload-pages-artifact": "no GitHub Pages",
    "actions/deploy-pages": "no GitHub Pages",
}
SKIPPED = {
    'uv tool install "rust-just>=1.59"': "just is the template venv's, first on PATH",
    # The longest step of all, and already proven per answer set: the replay would repeat it.
    "just check-all": "test_e2e runs it on the default answers and `just test` on the others",
    "apt-get update -qq && apt-get install -y -qq buildah > /dev/null": (
        "a Debian package install; buildah is the fake on PATH"
    ),
}
SKIPPED_PREFIXES = {
    "curl --fail --silent --show-error --location --output /usr/local/bin/cosign": (
        "downloads cosign; the fake is on PATH"
    ),
    'curl --fail --silent --show-error --location "https://raw.githubusercontent.com/anchore': (
        "downloads syft; the fake is on PATH"
    ),
    "uv publish --publish-url": "uploads to GitLab's package registry, which is not here",
}
# pip-audit's message when it cannot reach the vulnerability database: then the replay goes on.
AUDIT_OFFLINE_MARK = "replay: pip-audit offline"
AUDIT_OR_OFFLINE = (
    'if ! just audit > "$HOME/audit.log" 2>&1; then'
    ' grep -q "could not be audited" "$HOME/audit.log" || { cat "$HOME/audit.log"; exit 1; };'
    f' echo "{AUDIT_OFFLINE_MARK}"; fi'
)
GITHUB_ACTIONS_DIR = Path(".github/actions")
BATCH = "data/production/latest.csv"

# -- GitHub expressions -----------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\|\||&&|==|!=|!|\(|\)|'(?:[^']|'')*'|[A-Za-z_][\w.\-]*\(\)|[\w.\-]+)")


def _truthy(value: Any) -> bool:
    return value not in (None, "", False, 0)


class Expression:
    """The part of GitHub's expression language the generated workflows use."""

    def __init__(self, text: str, context: Mapping[str, Any]) -> None:
        self.tokens = [match.group(1) for match in _TOKEN.finditer(text)]
        assert "".join(self.tokens) == re.sub(r"\s+", "", text), f"cannot parse {text!r}"
        self.context = context
        self.position = 0

    def value(self) -> Any:
        result = self._or()
        assert self.position == len(self.tokens), f"trailing tokens in {self.tokens}"
        return result

    def _next(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self) -> Any:
        left = self._and()
        while self._next() == "||":
            self._take()
            right = self._and()
            left = left if _truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._next() == "&&":
            self._take()
            right = self._compare()
            left = right if _truthy(left) else left
        return left

    def _compare(self) -> Any:
        left = self._unary()
        if self._next() in ("==", "!="):
            operator = self._take()
            right = self._unary()
            return (str(left) == str(right)) == (operator == "==")
        return left

    def _unary(self) -> Any:
        if self._next() == "!":
            self._take()
            return not _truthy(self._unary())
        if self._next() == "(":
            self._take()
            inner = self._or()
            assert self._take() == ")"
            return inner
        return self._primary(self._take())

    def _primary(self, token: str) -> Any:
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token in ("true", "false"):
            return token == "true"  # noqa: S105 - a boolean literal, not a password
        if token in ("always()", "success()"):
            return True
        value: Any = self.context
        for part in token.split("."):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return value


def evaluate(text: str, context: Mapping[str, Any]) -> Any:
    return Expression(text, context).value()


def substitute(text: str, context: Mapping[str, Any]) -> str:
    """A string with every `${{ expr }}` replaced by its value, as the runner does."""

    def one(match: re.Match[str]) -> str:
        value = evaluate(match.group(1), context)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def condition(text: Any, context: Mapping[str, Any]) -> bool:
    if text is None:
        return True
    expression = str(text).strip()
    if expression.startswith("${{"):
        expression = expression[3:-2]
    return _truthy(evaluate(expression, context))


# -- Running the steps ------------------------------------------------------------------------


@dataclass
class Replay:
    """One project's replays: the commands run, the steps left out and why."""

    project: InstalledProject
    bin_dir: Path
    home: Path
    fake_log: Path
    ran: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        uv_cache = run(["uv", "cache", "dir"], self.project.path).stdout.strip()
        env = subprocess_env({**extra})
        env.update(
            PATH=os.pathsep.join([str(self.bin_dir), env["PATH"]]),
            HOME=str(self.home),
            UV_CACHE_DIR=uv_cache,  # the machine's warm cache stands for the CI cache
            FAKE_LOG=str(self.fake_log),
        )
        return env

    def shell(self, name: str, script: str, env: Mapping[str, str]) -> None:
        """Run one step's script as the runner does (bash, -e, pipefail); fail on error."""
        self.ran.append(f"{name}: {script.strip()}")
        script = re.sub(r"^just audit$", AUDIT_OR_OFFLINE, script, flags=re.MULTILINE)
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.project.path,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        output = result.stdout + result.stderr
        if AUDIT_OFFLINE_MARK in result.stdout:
            self.left_out.append(f"{name}: `just audit` ran, but pip-audit is offline here")
        assert result.returncode == 0, (
            f"{name} failed (exit {result.returncode}):\n{script}\n--- output ---\n{output[-6000:]}"
        )

    def fake_calls(self) -> list[str]:
        return self.fake_log.read_text().splitlines() if self.fake_log.exists() else []


def _expand(project: Path, steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The job's steps with each local composite action replaced by its own steps."""
    for step in steps:
        uses = str(step.get("uses", ""))
        if uses.startswith("./"):
            action = yaml.safe_load((project / uses / "action.yml").read_text())
            assert action["runs"]["using"] == "composite"
            yield from _expand(project, action["runs"]["steps"])
        else:
            yield step


def replay_github_job(
    replay: Replay, workflow_name: str, job_name: str, context: dict[str, Any]
) -> dict[str, Any]:
    """Run one job of a generated workflow; returns its steps' outputs and its summary."""
    project = replay.project.path
    workflow = yaml.safe_load((project / ".github/workflows" / workflow_name).read_text())
    job = workflow["jobs"][job_name]
    context = {**context, "steps": {}}
    assert condition(job.get("if"), context), f"{workflow_name}:{job_name} would not run"
    files = {
        key: replay.home / f"{job_name}.{key.lower()}"
        for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")
    }
    for path in files.values():
        path.write_text("")
    job_env: dict[str, str] = {
        "GITHUB_SHA": run(["git", "rev-parse", "HEAD"], project).stdout.strip(),
        "GITHUB_REPOSITORY": context["github"]["repository"],
        "GITHUB_SERVER_URL": context["github"]["server_url"],
        "RUNNER_TEMP": str(replay.home),
        **{key: str(path) for key, path in files.items()},
    }
    for scope in (workflow.get("env", {}), job.get("env", {})):
        job_env.update({key: substitute(str(value), context) for key, value in scope.items()})
    for index, step in enumerate(_expand(project, job["steps"])):
        name = f"{workflow_name}:{job_name}:{step.get('name') or step.get('uses') or index}"
        if not condition(step.get("if"), context):
            continue
        if "uses" in step:
            action = str(step["uses"]).split("@", 1)[0]
            assert action in ACTIONS, f"{name}: no replay rule for the action {action}"
            replay.left_out.append(f"{name}: action not replayed ({ACTIONS[action]})")
            if action == "anchore/sbom-action":
                # What later steps read from it: the SBOM file it writes.
                sbom = project / substitute(str(step["with"]["output-file"]), context)
                sbom.parent.mkdir(parents=True, exist_ok=True)
                sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "replay"}))
            continue
        script = str(step["run"])
        if script.strip() in SKIPPED:
            replay.left_out.append(f"{name}: skipped ({SKIPPED[script.strip()]})")
            continue
        step_env = {
            **job_env,
            **{key: substitute(str(value), context) for key, value in step.get("env", {}).items()},
        }
        files["GITHUB_OUTPUT"].write_text("")
        replay.shell(name, substitute(script, context), step_env)
        outputs = dict(
            line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines()
        )  # the generated workflows write one `key=value` line per output
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": outputs}
        for line in files["GITHUB_ENV"].read_text().splitlines():
            key, value = line.split("=", 1)
            job_env[key] = value
    return {
        "steps": context["steps"],
        "summary": files["GITHUB_STEP_SUMMARY"].read_text(),
    }


def _gitlab_lines(lines: list[Any], replay: Replay, name: str) -> list[str]:
    kept = []
    # GitLab flattens nested lists (a YAML anchor of steps used inside a script).
    flat = [item for line in lines for item in (line if isinstance(line, list) else [line])]
    for line in flat:
        reason = SKIPPED.get(line) or next(
            (why for prefix, why in SKIPPED_PREFIXES.items() if line.startswith(prefix)), None
        )
        if reason:
            replay.left_out.append(f"{name}: skipped `{line[:60]}` ({reason})")
        else:
            kept.append(line)
    return kept


def replay_gitlab_job(replay: Replay, job_name: str, variables: Mapping[str, str]) -> None:
    """Run one job of the generated .gitlab-ci.yml: before_script and script, one shell."""
    config = yaml.safe_load((replay.project.path / ".gitlab-ci.yml").read_text())
    job = dict(config[job_name])
    if "extends" in job:
        # As GitLab's `extends`: keys of the job win, mappings (variables) are merged.
        base = config[job["extends"]]
        merged_variables = {**base.get("variables", {}), **job.get("variables", {})}
        job = {**base, **job, "variables": merged_variables}
    name = f".gitlab-ci.yml:{job_name}"
    before = job.get("before_script", config["default"]["before_script"])
    lines = _gitlab_lines([*before, *job["script"]], replay, name)
    env = {
        **{key: str(value) for key, value in config["variables"].items()},
        **{key: str(value) for key, value in job.get("variables", {}).items()},
        "CI_ENVIRONMENT_NAME": str(job.get("environment", {}).get("name", "")),
        "CI_COMMIT_SHORT_SHA": run(
            ["git", "rev-parse", "--short", "HEAD"], replay.project.path
        ).stdout.strip(),
        "CI_PROJECT_URL": "https://gitlab.example.com/team/project",
        "GITLAB_USER_LOGIN": "replay",
        "CI_JOB_TOKEN": "job-token",
        **variables,
    }
    # GitLab expands $VARIABLES inside variables' values; here only the one we use.
    env["MODEL_REGISTRY_USER"] = env["GITLAB_USER_LOGIN"]
    replay.shell(name, "\n".join(lines), env)


# -- The replays ------------------------------------------------------------------------------


def _github_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "github": {
            "actor": "replay",
            "repository": "team/project",
            "server_url": "https://github.com",
            "token": "github-token",
            "ref": "refs/heads/main",
            "event": {},
        },
        "inputs": {},
        "vars": {},
        "secrets": {},
    }
    for key, value in overrides.items():
        context[key] = {**context[key], **value}
    return context


def _replay(project: InstalledProject, tmp_path: Path) -> Replay:
    bin_dir = tmp_path / "fakes"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        fake = bin_dir / name
        fake.write_text(f"#!/usr/bin/env bash\nset -euo pipefail\n{body}")
        fake.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    return Replay(project, bin_dir, home, tmp_path / "fakes.log")


def _write_production_batch(project: InstalledProject) -> None:
    """A production batch as an upstream job would leave it: feature rows, no target."""
    script = (
        "import pandas as pd, sys; frame = pd.read_parquet('data/prepared/train.parquet');"
        " frame.drop(columns=['target']).to_csv(sys.argv[1], index=False)"
    )
    (project.path / BATCH).parent.mkdir(parents=True, exist_ok=True)
    run(["uv", "run", "--frozen", "python", "-c", script, BATCH], project.path)


def _assert_package_built(path: Path) -> None:
    assert len(list((path / "dist").glob("*.whl"))) == 1
    assert len(list((path / "dist").glob("*.tar.gz"))) == 1


def _holder(project: InstalledProject, alias: str) -> str:
    """The version an alias (@champion, @challenger) points at in the registry."""
    return str(json.loads(project.just("models", "info", alias).stdout)["version"])


def _report(replay: Replay) -> None:
    print("\n".join(["replayed:", *replay.ran, "left out:", *replay.left_out]))


@pytest.fixture(scope="module")
def github_project(installed_project: Any) -> InstalledProject:
    project: InstalledProject = installed_project("defaults", "workflow-replay")
    return project


@pytest.fixture(scope="module")
def gitlab_project(installed_project: Any) -> InstalledProject:
    project: InstalledProject = installed_project("regression-gitlab", "workflow-replay")
    return project


def test_github_workflows_replay_a_release(
    github_project: InstalledProject, tmp_path: Path
) -> None:
    replay = _replay(github_project, tmp_path)
    path = github_project.path

    replay_github_job(replay, "ci.yml", "check", _github_context())
    _assert_package_built(path)

    release = replay_github_job(replay, "model-release.yml", "release", _github_context())
    version = release["steps"]["promote"]["outputs"]["version"]
    assert version == "1.0.0"
    assert _holder(github_project, "@challenger") == version
    assert (path / f"build/reports/model-card-{version}.md").is_file()
    assert json.loads((path / "build/model/provenance.json").read_text())["semver"] == version
    assert f"## Model {version}" in release["summary"]
    # The team commits what the pipeline recorded (dvc.lock, reports), as after `just pipeline`.
    git_commit_all(path, "chore: record pipeline run")

    deploy = {"action": "deploy", "version": "", "canary": "", "reason": "", "promote": False}
    staging = {**deploy, "environment": "staging"}
    replay_github_job(replay, "deploy.yml", "deploy", _github_context(inputs=staging))
    record = json.loads((path / "build/deploy/staging/deployment.json").read_text())
    assert record["version"] == version
    production = {**deploy, "environment": "production", "promote": True, "reason": "replay"}
    replay_github_job(replay, "deploy.yml", "deploy", _github_context(inputs=production))
    record = json.loads((path / "build/deploy/production/deployment.json").read_text())
    assert record["version"] == version
    assert _holder(github_project, "@champion") == version

    tag = {"event": {"release": {"tag_name": "v0.1.0"}}}
    replay_github_job(replay, "publish.yml", "package", _github_context(github=tag))
    published = replay_github_job(replay, "publish.yml", "image", _github_context(github=tag))
    image = run(["just", "--evaluate", "IMAGE"], path).stdout.strip()
    ref = published["steps"]["push"]["outputs"]["ref"]
    assert re.fullmatch(rf"{re.escape(image)}:{version}-[0-9a-f]{{7}}", ref), ref
    calls = replay.fake_calls()
    assert any(c.startswith("gh release upload v0.1.0 dist/") for c in calls), calls
    build = next(c for c in calls if c.startswith("docker build"))
    assert f"--tag {ref}" in build, build
    assert f"--tag {image}:v0.1.0" in build, build
    assert f"docker push {ref}" in calls
    assert f"docker push {image}:v0.1.0" in calls
    digest = published["steps"]["push"]["outputs"]["digest"]
    assert re.fullmatch(rf"{re.escape(image)}@sha256:[0-9a-f]{{64}}", digest)
    assert f"cosign sign --yes {digest}" in calls
    assert any("--predicate build/model/provenance.json" in c for c in calls)
    replay_github_job(replay, "publish.yml", "model-card", _github_context(github=tag))
    card = f"build/reports/model-card-{version}.md build/reports/model-card-{version}.html"
    calls = replay.fake_calls()
    assert any(c.startswith(f"gh release upload v0.1.0 {card}") for c in calls), calls

    _write_production_batch(github_project)
    checked = replay_github_job(replay, "retrain.yml", "retrain", _github_context())
    assert checked["steps"]["drift"]["outputs"]["drift"] in ("true", "false")
    assert list((path / "build/reports/drift").glob("*.json"))

    # A second version in production, then the one-click rollback returns to the first.
    github_project.just("pipeline", "--force")
    git_commit_all(path, "chore: retrain")
    replay_github_job(replay, "deploy.yml", "deploy", _github_context(inputs=production))
    rollback = {**deploy, "action": "rollback"}
    replay_github_job(replay, "deploy.yml", "rollback", _github_context(inputs=rollback))
    record = json.loads((path / "build/deploy/production/deployment.json").read_text())
    assert record["version"] == version
    assert _holder(github_project, "@champion") == version
    _report(replay)


def test_gitlab_jobs_replay_a_release(gitlab_project: InstalledProject, tmp_path: Path) -> None:
    replay = _replay(gitlab_project, tmp_path)
    path = gitlab_project.path

    replay_gitlab_job(replay, "check", {})
    _assert_package_built(path)
    replay_gitlab_job(replay, "model-release", {})
    version = json.loads((path / "reports/registration.json").read_text())["version"]
    assert (path / f"build/reports/model-card-{version}.md").is_file()
    git_commit_all(path, "chore: record pipeline run")

    replay_gitlab_job(replay, "deploy-staging", {})
    replay_gitlab_job(replay, "deploy-production", {"DEPLOY_PROMOTE": "true"})
    record = json.loads((path / "build/deploy/production/deployment.json").read_text())
    assert record["version"] == version

    replay_gitlab_job(replay, "publish-package", {"CI_COMMIT_TAG": "v0.1.0"})
    replay_gitlab_job(replay, "publish-image", {"CI_COMMIT_TAG": "v0.1.0"})
    image = run(["just", "--evaluate", "IMAGE"], path).stdout.strip()
    calls = replay.fake_calls()
    assert any(c.startswith("buildah build") and f"--tag {image}:v0.1.0" in c for c in calls)
    digest = (path / "build/image.digest").read_text().strip()
    assert f"cosign sign --yes {image}@{digest}" in calls
    assert (path / "build/sbom.spdx.json").is_file()

    _write_production_batch(gitlab_project)
    replay_gitlab_job(replay, "retrain", {"PRODUCTION_BATCH": BATCH})
    assert list((path / "build/reports/drift").glob("*.json"))
    _report(replay)


def test_expressions_follow_github_semantics() -> None:
    """The evaluator the replays rely on: `||` and `&&` return operands, `==` compares."""
    context = {"inputs": {"action": "rollback", "empty": ""}, "vars": {}}
    assert evaluate("vars.MODEL || '@champion'", context) == "@champion"
    assert evaluate("inputs.action == 'rollback' && 'production' || 'x'", context) == "production"
    assert evaluate("inputs.action == 'deploy' && 'production' || 'staging'", context) == "staging"
    assert not condition("inputs.empty", context)
    assert condition("always() && !inputs.empty", context)
    assert substitute("a-${{ inputs.action }}-${{ vars.NONE }}", context) == "a-rollback-"
    with pytest.raises(AssertionError):
        evaluate("inputs.action ~ 1", context)


def test_skip_lists_name_real_lines() -> None:
    """Every skip rule matches a line of the generated CI files, so none is stale."""
    template = Path(__file__).resolve().parents[1] / "template"
    texts = "\n".join(
        path.read_text()
        for path in template.rglob("*")
        if path.is_file()
        and ("workflows" in path.parts or "gitlab-ci" in path.name or path.name == "action.yml")
    )
    for line in [*SKIPPED, *SKIPPED_PREFIXES]:
        assert line in texts, f"stale skip rule: {line}"
