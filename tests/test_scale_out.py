"""Scale-out on a real loopback Dask cluster: the same results as local processes.

One regression project of its own (the shared trained project is classification):
``just cluster-up 2`` starts a scheduler and two worker processes on 127.0.0.1 with
Dask's own CLI, and every command below reaches it through ``DASK_SCHEDULER_ADDRESS``,
as a user pointing at a cluster would. Nothing is mocked.

- tuning: the pipeline with a grid search, once on local processes and once on the
  cluster, writes byte-identical DVC outputs, leaves ``dvc status`` clean, and logs the
  same candidate runs;
- scoring: the same partitioned input gives the same Parquet content on both; a
  worker killed mid-job is survived (or the job fails whole); a bad partition and an
  unreachable scheduler each fail with one line and no output;
- drift: a directory of Parquet partitions gets exactly the statistics of the same
  rows in one CSV file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import InstalledProject, free_port, git_commit_all, run, subprocess_env

pytestmark = pytest.mark.e2e

SEARCH = """search:
  method: grid
  folds: 3
  seed: 7
  trials: 20
  batch: 4
  space:
    alpha: [0.01, 0.1, 1.0, 10.0]
"""
#: Rows of each input partition, and how many partitions (one of them uneven).
PARTITION_ROWS = (40_000, 40_000, 40_000, 40_000, 17_321)
#: What a DVC run of the pipeline writes that must not depend on where the search ran.
DVC_OUTPUTS = ("artifacts/model.joblib", "reports/metrics.json", "reports/plots/residuals.csv")

_MAKE_BATCHES = """
import sys
from pathlib import Path
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes

out = Path(sys.argv[1])
sizes = [int(size) for size in sys.argv[2:]]
features = load_diabetes(as_frame=True).data
rng = np.random.default_rng(0)
(out / "parts").mkdir(parents=True)
frames = []
for index, size in enumerate(sizes):
    rows = features.sample(size, replace=True, random_state=index).reset_index(drop=True)
    rows = rows + rng.normal(0.0, 0.01, rows.shape)
    rows.to_parquet(out / "parts" / f"day-{index:02d}.parquet", row_group_size=15_000)
    frames.append(rows)
whole = pd.concat(frames, ignore_index=True)
whole.to_csv(out / "whole.csv", index=False)
bad = frames[0].head(500).astype({"bmi": "string"})
bad.loc[7, "bmi"] = "n/a"
(out / "bad").mkdir()
frames[1].head(500).to_parquet(out / "bad" / "a-good.parquet")
bad.to_parquet(out / "bad" / "b-bad.parquet")
"""

_CANDIDATE_RUNS = """
import json, sys
import mlflow
mlflow.set_tracking_uri("sqlite:///mlflow.db")
runs = mlflow.search_runs(experiment_names=[sys.argv[1]], order_by=["start_time ASC"])
parents = runs[runs["tags.search.backend"].notna()]["run_id"].tolist()
found = []
for parent in parents[-2:]:
    children = runs[runs["tags.mlflow.parentRunId"] == parent]
    found.append(sorted(
        (row["tags.search.candidate"], row["params.alpha"], row["metrics.cv_r2_mean"],
         row["metrics.cv_rmse_mean"], row["tags.search.best"])
        for _, row in children.iterrows()
    ))
print(json.dumps(found))
"""

_READ_SCORES = """
import sys
import pandas as pd
frame = pd.read_parquet(sys.argv[1]).sort_values(["source", "row"]).reset_index(drop=True)
print(frame.to_json(orient="split", double_precision=15))
"""


@pytest.fixture(scope="module")
def project(installed_project: Any) -> InstalledProject:
    """The regression project with a grid search in params.yaml, trained and champion."""
    result: InstalledProject = installed_project("regression-gitlab", "scale-out")
    params = result.path / "params.yaml"
    text = params.read_text()
    start = text.index("search:\n")
    end = text.index("\ncompute:\n")
    params.write_text(text[:start] + SEARCH + text[end:])
    result.just("pipeline")
    git_commit_all(result.path, "chore: tune and train")
    result.just("models", "promote", "1.0.0", "production", "first release")
    return result


@pytest.fixture(scope="module")
def batches(project: InstalledProject) -> Path:
    """Partitioned Parquet input, the same rows as one CSV, and a directory with a bad part."""
    folder = project.path / "batches"
    _python(project, _MAKE_BATCHES, str(folder), *map(str, PARTITION_ROWS))
    return folder


@pytest.fixture(scope="module")
def cluster(project: InstalledProject) -> Any:
    """A scheduler and two workers on loopback, started and stopped by the project's recipes."""
    port = str(free_port())
    up = run(["just", "cluster-up", "2"], project.path, timeout=300, DASK_SCHEDULER_PORT=port)
    address = (project.path / "build" / "cluster" / "address").read_text().strip()
    assert address == f"tcp://127.0.0.1:{port}", up.stdout
    assert f"DASK_SCHEDULER_ADDRESS={address}" in up.stdout
    refused = project.just("cluster-up", "2", check=False)
    assert refused.returncode != 0
    assert "already" in refused.stderr, refused.stderr
    try:
        yield address
    finally:
        records = list((project.path / "build" / "cluster").glob("*.pid"))
        pids = [json.loads(record.read_text())["pid"] for record in records]
        project.just("cluster-down")
        assert not (project.path / "build" / "cluster" / "address").exists()
        assert not [pid for pid in pids if _alive(pid)], "cluster-down left processes running"
        again = project.just("cluster-down")
        assert again.returncode == 0


def test_tuning_on_the_cluster_equals_tuning_locally(
    project: InstalledProject, cluster: str
) -> None:
    local = {name: (project.path / name).read_bytes() for name in DVC_OUTPUTS}
    assert _dvc_status(project) == {}

    on_cluster = run(
        ["just", "pipeline", "--force"],
        project.path,
        timeout=900,
        DASK_SCHEDULER_ADDRESS=cluster,
    )

    assert "registered" in on_cluster.stdout
    for name in DVC_OUTPUTS:
        assert (project.path / name).read_bytes() == local[name], f"{name} differs"
    assert _dvc_status(project) == {}
    local_runs, cluster_runs = json.loads(_python(project, _CANDIDATE_RUNS, "demand-forecast"))
    assert len(local_runs) == 4
    assert cluster_runs == local_runs
    assert [run[4] for run in local_runs].count("true") == 1


def test_scoring_on_the_cluster_equals_scoring_locally(
    project: InstalledProject, batches: Path, cluster: str
) -> None:
    local_out, cluster_out = batches / "scored-local", batches / "scored-cluster"

    project.just("score", str(batches / "parts"), str(local_out))
    summary = run(
        ["just", "score", str(batches / "parts"), str(cluster_out)],
        project.path,
        DASK_SCHEDULER_ADDRESS=cluster,
    )

    assert json.loads(summary.stdout.strip().splitlines()[-1])["rows"] == sum(PARTITION_ROWS)
    assert _scores(project, local_out) == _scores(project, cluster_out)


def test_a_worker_killed_mid_job_is_survived_or_fails_whole(
    project: InstalledProject, batches: Path, cluster: str
) -> None:
    output, expected = batches / "scored-killed", batches / "scored-csv-local"
    params = project.path / "params.yaml"
    original = params.read_text()
    # CSV chunks of 5,000 rows: 36 partitions, so the job still runs when a worker dies.
    params.write_text(original.replace("partition_rows: 250000", "partition_rows: 5000"))
    try:
        job = subprocess.Popen(
            ["just", "score", str(batches / "whole.csv"), str(output)],
            cwd=project.path,
            env=subprocess_env({"DASK_SCHEDULER_ADDRESS": cluster}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not list(batches.glob(".*/part-*.parquet")) and job.poll() is None:
            assert time.monotonic() < deadline, "no partition was written within 2 minutes"
            time.sleep(0.05)
        os.killpg(_worker_pid(project), signal.SIGKILL)  # its nanny and the worker it forked
        _, stderr = job.communicate(timeout=600)
        if job.returncode == 0:
            project.just("score", str(batches / "whole.csv"), str(expected))
    finally:
        params.write_text(original)

    if job.returncode == 0:
        assert _scores(project, output) == _scores(project, expected)
    else:
        assert len(_errors(stderr)) == 1, stderr
        assert "Traceback" not in stderr
        assert not output.exists()
    assert not list(batches.glob(".*"))


def test_a_bad_partition_fails_the_job_naming_it_and_writes_nothing(
    project: InstalledProject, batches: Path, cluster: str
) -> None:
    output = batches / "scored-bad"

    failed = run(
        ["just", "score", str(batches / "bad"), str(output)],
        project.path,
        check=False,
        timeout=300,
        DASK_SCHEDULER_ADDRESS=cluster,
    )

    assert failed.returncode != 0
    assert _errors(failed.stderr) == [_errors(failed.stderr)[0]], failed.stderr
    assert _errors(failed.stderr)[0].startswith("error: b-bad.parquet: "), failed.stderr
    assert "column 'bmi'" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert "Warning" not in failed.stderr
    assert not output.exists()
    assert not list(batches.glob(".*"))


def test_an_unreachable_scheduler_fails_within_seconds_naming_it(
    project: InstalledProject, batches: Path
) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    output = batches / "scored-nowhere"
    started = time.monotonic()

    failed = run(
        ["just", "score", str(batches / "parts"), str(output)],
        project.path,
        check=False,
        timeout=120,
        DASK_SCHEDULER_ADDRESS=address,
    )

    assert failed.returncode != 0
    assert f"No Dask scheduler answers at {address}" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert time.monotonic() - started < 45
    assert not output.exists()


def test_partitioned_drift_equals_the_single_file_check(
    project: InstalledProject, batches: Path, cluster: str
) -> None:
    reports = []
    for batch in (batches / "whole.csv", batches / "parts"):
        checked = run(
            ["just", "drift", str(batch)],
            project.path,
            check=False,
            DASK_SCHEDULER_ADDRESS=cluster,
        )
        assert checked.returncode in {0, 1}, checked.stderr
        report = sorted((project.path / "build" / "reports" / "drift").glob("*.json"))
        newest = max(report, key=lambda path: path.stat().st_mtime_ns)
        reports.append(json.loads(newest.read_text()))
    # Everything but what names the batch, its report files and the time of the check.
    single, partitioned = (
        {key: value for key, value in report.items() if not _names_the_run(key)}
        for report in reports
    )
    assert partitioned == single
    assert single["rows"] == sum(PARTITION_ROWS)


def _names_the_run(key: str) -> bool:
    return key.startswith(("batch", "report_")) or key == "checked_at"


def _errors(stderr: str) -> list[str]:
    """The command's own ``error:`` lines (just adds one naming the failed recipe)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("error: ") and not line.startswith("error: recipe")
    ]


def _python(project: InstalledProject, code: str, *args: str) -> str:
    result = run(["uv", "run", "--frozen", "python", "-c", code, *args], project.path)
    return result.stdout


def _scores(project: InstalledProject, output: Path) -> str:
    return _python(project, _READ_SCORES, str(output))


def _dvc_status(project: InstalledProject) -> dict[str, Any]:
    result = run(["uv", "run", "--frozen", "dvc", "status", "--json"], project.path)
    status: dict[str, Any] = json.loads(result.stdout or "{}")
    return status


def _worker_pid(project: InstalledProject) -> int:
    record = sorted((project.path / "build" / "cluster").glob("worker*.pid"))[0]
    return int(json.loads(record.read_text())["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
