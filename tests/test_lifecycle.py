"""End-to-end model lifecycle through the commands a user types.

For each problem type: run the pipeline, promote to production, change a
hyper-parameter and rerun (MINOR bump, only dependent stages rerun), refuse a
promotion with an impossible gate (nothing changes), promote, roll back,
and compare; predict with the champion; render plots and use the DVC remote.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conftest import InstalledProject, git_commit_all, run

pytestmark = pytest.mark.e2e

HYPER_PARAMETER = {
    "classification": ("C: 1.0", "C: 0.5"),
    "regression": ("alpha: 1.0", "alpha: 0.5"),
}
PRIMARY_METRIC = {"classification": "roc_auc", "regression": "r2"}
# Library chatter a plain `just pipeline` must not print (`-v` shows it).
NOISE = ("Downloading artifacts", "CloudPickle", "already exists", "View run", "Traceback")


@pytest.fixture(scope="module", params=["defaults", "regression-gitlab"])
def project(request: pytest.FixtureRequest, installed_project: Any) -> InstalledProject:
    result: InstalledProject = installed_project(request.param, "lifecycle")
    return result


def _problem(project: InstalledProject) -> str:
    return str(project.answers.get("problem_type", "classification"))


def _registration(project: InstalledProject) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project.path / "reports" / "registration.json").read_text())
    return data


def _champion(project: InstalledProject) -> str:
    info = json.loads(project.just("models", "info", "@champion").stdout)
    return str(info["version"])


def test_registry_scenario(project: InstalledProject) -> None:
    problem = _problem(project)
    params_file = project.path / "params.yaml"

    # First run: every stage, version 1.0.0 promoted to staging by the gates, quietly.
    first = project.just("pipeline")
    assert _registration(project) == {
        "bump": "initial",
        "new": True,
        "refused": [],
        "stage": "staging",
        "version": "1.0.0",
    }
    for noise in NOISE:
        assert noise not in first.stdout + first.stderr, noise
    git_commit_all(project.path, "chore: record pipeline run")

    # An unchanged second run does no work.
    unchanged = project.just("pipeline")
    assert "Running stage" not in unchanged.stdout
    assert "up to date" in unchanged.stdout

    project.just("models", "promote", "1.0.0", "production", "first release")
    assert _champion(project) == "1.0.0"

    # One hyper-parameter changes: prepare is skipped, the rest reruns, MINOR bump.
    before, after = HYPER_PARAMETER[problem]
    text = params_file.read_text()
    assert before in text
    params_file.write_text(text.replace(before, after, 1))
    git_commit_all(project.path, "feat: tune the model")
    rerun = project.just("pipeline")
    assert "Running stage 'prepare'" not in rerun.stdout
    assert "Running stage 'train'" in rerun.stdout
    assert _registration(project)["version"] == "1.1.0"
    assert _registration(project)["bump"] == "minor"
    params_diff = run(
        ["uv", "run", "--frozen", "dvc", "params", "diff", "HEAD~1"], project.path
    ).stdout
    assert "model.params" in params_diff
    git_commit_all(project.path, "chore: record pipeline run")

    # An impossible gate refuses the promotion, names the gate, changes nothing.
    metric = PRIMARY_METRIC[problem]
    history_before = project.just("models", "history").stdout
    gate_line = re.compile(rf"^  min_{metric}: .*$", re.MULTILINE)
    assert gate_line.search(params_file.read_text())
    params_file.write_text(gate_line.sub(f"  min_{metric}: 2.0", params_file.read_text()))
    refused = project.just("models", "promote", "1.1.0", "production", check=False)
    assert refused.returncode != 0
    assert f"min_{metric}: FAILED" in refused.stderr
    assert "threshold 2.0" in refused.stderr
    gates = project.just("models", "gates", "1.1.0", check=False)
    assert gates.returncode == refused.returncode
    assert f"min_{metric}: FAILED" in gates.stdout
    run(["git", "checkout", "params.yaml"], project.path)
    assert _champion(project) == "1.0.0"

    # A misspelt gate stops `just pipeline` before DVC removes any stage output.
    model_file = project.path / "artifacts" / "model.joblib"
    before_typo = model_file.read_bytes()
    params_file.write_text(params_file.read_text().replace(f"  min_{metric}:", "  min_typo:", 1))
    typo = project.just("pipeline", "--force", check=False)
    run(["git", "checkout", "params.yaml"], project.path)
    assert typo.returncode != 0
    assert "min_typo" in typo.stderr
    assert "Running stage" not in typo.stdout
    assert model_file.read_bytes() == before_typo
    assert project.just("models", "history").stdout == history_before

    # Promote, then the one-command rollback.
    project.just("models", "promote", "1.1.0", "production", "tuned")
    assert _champion(project) == "1.1.0"
    project.just("rollback")
    assert _champion(project) == "1.0.0"
    # Rollback walks back, never forward again to the version it left.
    again = project.just("rollback", check=False)
    assert again.returncode != 0
    assert "Nothing earlier to roll back to" in again.stderr
    assert _champion(project) == "1.0.0"
    listing = project.just("models", "list").stdout
    assert re.search(r"^1\.0\.0\s+\d+\s+production", listing, re.MULTILINE), listing
    assert re.search(r"^1\.1\.0\s+\d+\s+archived", listing, re.MULTILINE), listing

    comparison = project.just("models", "compare", "1.0.0", "1.1.0").stdout
    assert metric in comparison
    assert "delta" in comparison
    history = project.just("models", "history").stdout
    assert "rollback" in history
    assert "tuned" in history

    # The champion serves predictions after its integrity check.
    predicted = project.just("predict", "data/prepared/test.parquet").stdout
    payload = json.loads(predicted[predicted.index("{") :])
    assert payload["version"] == "1.0.0"
    assert len(payload["predictions"]) > 10


def test_a_multiclass_dataset_runs_end_to_end(project: InstalledProject) -> None:
    if _problem(project) != "classification":
        pytest.skip("the regression project's bundled dataset is covered by the scenario")
    params_file = project.path / "params.yaml"
    original = params_file.read_text()
    params_file.write_text(original.replace("dataset: breast_cancer", "dataset: wine", 1))
    try:
        git_commit_all(project.path, "feat: multiclass data")
        project.just("pipeline")
        registration = _registration(project)
        assert registration["bump"] == "major"  # other features: a new input contract
        roc = (project.path / "reports" / "plots" / "roc.csv").read_text().splitlines()
        assert roc[0] == "fpr,tpr"
        assert len(roc) > 3
        project.just("plots")
    finally:
        params_file.write_text(original)
        git_commit_all(project.path, "revert: binary data")


def test_plots_render_and_data_reaches_the_local_remote(project: InstalledProject) -> None:
    project.just("pipeline")
    project.just("plots")
    assert (project.path / "dvc_plots" / "index.html").is_file()
    project.just("push")
    stored = [path for path in (project.path / ".dvc-storage").rglob("*") if path.is_file()]
    assert stored, "dvc push wrote nothing to the default local remote"
    run(["rm", "-rf", "data/prepared", ".dvc/cache"], project.path)
    project.just("pull")
    assert (project.path / "data" / "prepared" / "train.parquet").is_file()


def test_bad_arguments_fail_with_one_clear_line(project: InstalledProject) -> None:
    missing = project.just("models", "info", "9.9.9", check=False)
    assert missing.returncode != 0
    assert "error: Model" in missing.stderr
    assert "no version 9.9.9" in missing.stderr
    bad = project.just("models", "promote", "1.0.0", "prod", check=False)
    assert bad.returncode != 0
    assert "invalid choice: 'prod'" in bad.stderr


# A stage the team adds to dvc.yaml: not one of the project's own, so DVC runs its command.
TEAM_STAGE = """
  summary:
    cmd: python -c "import shutil; shutil.copy('reports/metrics.json', 'reports/summary.json')"
    deps:
      - reports/metrics.json
    outs:
      - reports/summary.json:
          cache: false
"""


def test_pipeline_runs_own_stages_here_and_a_team_stage_through_dvc(
    project: InstalledProject,
) -> None:
    if _problem(project) != "classification":
        pytest.skip("the runner does not depend on the problem type")
    dvc_yaml = project.path / "dvc.yaml"
    original = dvc_yaml.read_text()
    dvc_yaml.write_text(original + TEAM_STAGE)
    try:
        ran = project.just("pipeline", "--force")
        assert "Running stage 'train' in this process" in ran.stdout
        assert "Running stage 'summary':" in ran.stdout
        assert (project.path / "reports" / "summary.json").read_text() == (
            project.path / "reports" / "metrics.json"
        ).read_text()
        status = run(["uv", "run", "--frozen", "dvc", "status"], project.path)
        assert "up to date" in status.stdout, status.stdout
        assert "up to date" in project.just("pipeline").stdout

        # A failing stage: one line naming it, exit 2, and DVC records nothing for it.
        params_file = project.path / "params.yaml"
        params_file.write_text(
            re.sub(r"min_rows: \d+", "min_rows: 1000000", params_file.read_text())
        )
        failed = project.just("pipeline", check=False)
        assert failed.returncode == 2
        assert "failed to reproduce 'prepare'" in failed.stderr
        assert "Traceback" not in failed.stderr
    finally:
        run(["git", "checkout", "params.yaml"], project.path)
        dvc_yaml.write_text(original)
    project.just("pipeline")
    assert "up to date" in run(["uv", "run", "--frozen", "dvc", "status"], project.path).stdout
