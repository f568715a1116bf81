"""The generated project's Prometheus and Grafana files, and the metrics they rely on.

promtool (Debian's `prometheus` package, installed by tasks/system-packages.sh)
validates the scrape configuration, the alert rules and their unit tests, and
every PromQL expression of the dashboard. The metric names the rules and the
dashboard use are checked against what the project really exposes: the model
server's /metrics after real requests, and the batch jobs' textfiles after a
real drift check, score and retraining count, also pushed to a real
Pushgateway (Debian's `prometheus-pushgateway`). The model card is written
for the trained project's champion through its recipe.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from conftest import InstalledProject, free_port, render, run

PROMTOOL = shutil.which("promtool")
PUSHGATEWAY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: run tasks/system-packages.sh"
)
MONITORING = Path("infra/monitoring")
DASHBOARD = MONITORING / "grafana/dashboards/model-monitoring.json"
DATASOURCES = MONITORING / "grafana/provisioning/datasources/prometheus.yml"
# Grafana's interval variables are not PromQL; promtool checks what Grafana sends.
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan",
}  # fmt: skip
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": ["timeseries", "stat", "bargauge", "gauge", "table"]},
                    "title": {"type": "string", "minLength": 1},
                    "gridPos": {
                        "type": "object",
                        "required": ["x", "y", "w", "h"],
                        "properties": {
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "h": {"type": "integer", "minimum": 1},
                        },
                    },
                    "datasource": {"$ref": "#/$defs/datasource"},
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr", "datasource"],
                            "properties": {
                                "expr": {"type": "string", "minLength": 1},
                                "datasource": {"$ref": "#/$defs/datasource"},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "datasource": {
            "type": "object",
            "required": ["type", "uid"],
            "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}},
        }
    },
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("monitoring") / "project")


def _promtool(*args: str, cwd: Path) -> str:
    assert PROMTOOL is not None
    return run([PROMTOOL, *args], cwd).stdout


@needs_promtool
def test_promtool_accepts_config_rules_and_alert_tests(project: Path) -> None:
    _promtool("check", "config", "prometheus.yml", cwd=project / MONITORING)
    assert "SUCCESS: 8 rules found" in _promtool(
        "check", "rules", "alerts.yml", cwd=project / MONITORING
    )
    assert "SUCCESS" in _promtool(
        "test", "rules", "tests/alerts-test.yml", cwd=project / MONITORING
    )


@needs_promtool
def test_alert_tests_fail_when_an_alert_changes(project: Path, tmp_path: Path) -> None:
    """The unit tests bite: a looser latency threshold makes them fail."""
    copy = tmp_path / "monitoring"
    shutil.copytree(project / MONITORING, copy)
    rules = copy / "alerts.yml"
    rules.write_text(rules.read_text().replace(") > 0.25", ") > 0.5", 1))
    assert PROMTOOL is not None
    result = run([PROMTOOL, "test", "rules", "tests/alerts-test.yml"], copy, check=False)
    assert result.returncode != 0
    assert "ModelServingLatencyHigh" in result.stdout + result.stderr


def _dashboard(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / DASHBOARD).read_text())
    return data


def _dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queries += [
        re.sub(r"^label_values\((\w+),\s*\w+\)$", r"\1", variable["query"]["query"])
        for variable in dashboard["templating"]["list"]
    ]
    for macro, value in GRAFANA_MACROS.items():
        queries = [query.replace(macro, value) for query in queries]
    return queries


def test_dashboard_is_structurally_valid(project: Path) -> None:
    dashboard = _dashboard(project)
    jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area
    provisioned = yaml.safe_load((project / DATASOURCES).read_text())["datasources"]
    uids = {source["uid"] for source in provisioned}
    used = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    used |= {t["datasource"]["uid"] for panel in dashboard["panels"] for t in panel["targets"]}
    used |= {variable["datasource"]["uid"] for variable in dashboard["templating"]["list"]}
    assert used == uids, f"dashboard data sources {used} vs provisioned {uids}"


@needs_promtool
def test_every_dashboard_query_is_valid_promql(project: Path, tmp_path: Path) -> None:
    queries = _dashboard_queries(_dashboard(project))
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": query}
                    for index, query in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    out = _promtool("check", "rules", "dashboard-rules.yml", cwd=tmp_path)
    assert f"SUCCESS: {len(queries)} rules found" in out


def metric_names(expression: str) -> set[str]:
    """Metric names a PromQL expression selects (not functions, labels, keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # label values, format strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for found in re.finditer(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text):
        name = found[1]
        if name.lower() not in PROMQL_WORDS:
            names.add(name)
    return names


def test_metric_name_extraction() -> None:
    expression = (
        'histogram_quantile(0.95, sum by (model_version, le) (rate(a_bucket{route=~"/x"}[5m])))'
        " > 0.25 and on (model) group_left () b_total offset 5m"
    )
    assert metric_names(expression) == {"a_bucket", "b_total"}


def _used_metric_names(project: Path) -> set[str]:
    rules = yaml.safe_load((project / MONITORING / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    expressions += _dashboard_queries(_dashboard(project))
    return set().union(*(metric_names(expression) for expression in expressions))


EXPOSE = """
import json, os, sys
from datetime import UTC, datetime
from pathlib import Path
import pandas as pd
from fastapi.testclient import TestClient
from {package}.config import load_params
from {package}.monitoring.metrics import LiveScore, export_live_score, record_retraining
from {package}.paths import ProjectPaths
from {package}.registry.records import VersionRecord
from {package}.registry.service import ModelRegistry
from {package}.serving.app import create_app
from {package}.serving.bundle import open_bundle

paths = ProjectPaths(Path.cwd())
params = load_params(paths.params)
registry = ModelRegistry(paths, params)
champion, bundle = registry.export("@champion", paths.root / "build" / "model")
rows = pd.read_parquet(paths.test_data).drop(columns=[params.data.target]).head(3)
with TestClient(create_app(open_bundle(bundle))) as client:
    assert client.post("/predict", json={{"records": rows.to_dict("records")}}).status_code == 200
    assert client.post("/predict", json={{"records": [{{"nope": 1}}]}}).status_code == 422
    Path(sys.argv[1]).write_text(client.get("/metrics").text)
metric = params.gates.primary_metric
score = LiveScore(metric, champion.metrics[metric] - 0.1, champion.metrics[metric])
export_live_score(score, model=registry.name, version=champion.semver, root=paths.root)
retrained = VersionRecord(
    "9", "1.0.1", "staging", datetime.now(UTC), "run",
    {{"retrain.trigger": "drift", "retrain.at": datetime.now(UTC).isoformat()}},
)
record_retraining([*registry.versions(), retrained], model=registry.name, root=paths.root)
"""


def _sample_names(text: str) -> set[str]:
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def _pushed_jobs(text: str) -> set[tuple[str, str]]:
    """(metric, job) of every sample a Pushgateway holds."""
    return {
        (sample.name, sample.labels.get("job", ""))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[str]:
    if PUSHGATEWAY is None:
        pytest.skip("prometheus-pushgateway missing: run tasks/system-packages.sh")
    port = free_port()
    process = subprocess.Popen(
        [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _held_out_batch(project: InstalledProject, path: Path) -> Path:
    script = (
        "import sys, pandas as pd; "
        "pd.read_parquet('data/prepared/test.parquet').to_csv(sys.argv[1], index=False)"
    )
    run(["uv", "run", "--frozen", "python", "-c", script, str(path)], project.path)
    return path


@pytest.mark.e2e
def test_rules_and_dashboard_use_only_exported_metrics(
    trained_project: InstalledProject, pushgateway: str, tmp_path: Path
) -> None:
    project = trained_project
    batch = _held_out_batch(project, tmp_path / "batch.csv")
    drifted = project.just("drift", str(batch), check=False, timeout=600)
    assert drifted.returncode in (0, 1), drifted.stderr
    served = tmp_path / "serving.prom"
    script = EXPOSE.format(package=project.package)
    run(
        ["uv", "run", "--frozen", "python", "-c", script, str(served)],
        project.path,
        PROMETHEUS_PUSHGATEWAY_URL=pushgateway,
    )
    monitoring = project.path / "build" / "monitoring"
    exported = _sample_names(served.read_text())
    for name in ("drift.prom", "performance.prom", "retraining.prom"):
        exported |= _sample_names((monitoring / name).read_text())
    missing = _used_metric_names(project.path) - exported
    assert not missing, f"rules or dashboard use metrics nothing exports: {sorted(missing)}"
    # The scores and the counter reached the gateway, grouped by job and model.
    with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5) as response:  # noqa: S310
        pushed = response.read().decode()
    assert ("model_live_metric", "performance") in _pushed_jobs(pushed)
    assert ("model_retrainings_total", "retraining") in _pushed_jobs(pushed)


@pytest.mark.e2e
def test_drift_check_pushes_and_a_dead_gateway_is_one_warning(
    trained_project: InstalledProject, pushgateway: str, tmp_path: Path
) -> None:
    project = trained_project
    batch = _held_out_batch(project, tmp_path / "batch.csv")
    args = ["uv", "run", "--frozen", project.package, "drift", str(batch)]
    live = run(args, project.path, check=False, PROMETHEUS_PUSHGATEWAY_URL=pushgateway)
    assert live.returncode in (0, 1), live.stderr
    with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5) as response:  # noqa: S310
        assert ("model_drift_psi", "drift_check") in _pushed_jobs(response.read().decode())
    prom = project.path / "build" / "monitoring" / "drift.prom"
    prom.unlink()
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run(args, project.path, check=False, PROMETHEUS_PUSHGATEWAY_URL=dead)
    # The verdict's exit status survives: the failed push is one warning naming the URL.
    assert result.returncode == live.returncode, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert dead in warnings[0]
    assert "error:" not in result.stderr
    assert time.monotonic() - started < 60  # the process starts in seconds; the push fails at once
    assert prom.is_file()


@pytest.mark.e2e
def test_model_card_of_the_champion(trained_project: InstalledProject) -> None:
    result = trained_project.just("model-card", "@champion")
    assert "build/reports/model-card-1.0.0.md" in result.stdout
    reports = trained_project.path / "build" / "reports"
    markdown = (reports / "model-card-1.0.0.md").read_text()
    page = (reports / "model-card-1.0.0.html").read_text()
    assert "| promote | staging → production | first release |" in markdown
    assert "min\\_roc\\_auc | passed" in markdown
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert not re.search(r"\b(?:src|href)=", page)  # self-contained: nothing loaded or linked
    bad = trained_project.just("model-card", "7.7.7", check=False)
    assert bad.returncode != 0
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error: ")]
    assert errors[0].endswith("has no version 7.7.7; registered: 1.0.0."), bad.stderr
