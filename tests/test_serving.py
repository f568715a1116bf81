"""A generated project serves its champion over HTTP with `just serve`, for real.

The server runs as a user starts it (`just serve`, a real uvicorn on
loopback), answers the same prediction as `just predict`, and shuts down on
SIGTERM only after answering the request it is in the middle of.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import InstalledProject, free_port, run, stop_process_group, subprocess_env

pytestmark = pytest.mark.e2e

HELD_OUT_ROWS = """
import sys, pandas as pd
rows = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"]).head(3)
rows.to_csv(sys.argv[1], index=False)
"""
STARTUP_SECONDS = 180


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback http
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback http
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the server exited with {process.returncode} before it was ready:\n{err}")
        try:
            if _get(f"{base}/ready", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{base}/ready did not answer within {STARTUP_SECONDS} s")


@pytest.fixture(scope="module")
def rows(trained_project: InstalledProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    run(["uv", "run", "--frozen", "python", "-c", HELD_OUT_ROWS, str(path)], trained_project.path)
    return path


@pytest.fixture(scope="module")
def served(trained_project: InstalledProject) -> Iterator[str]:
    """`just serve` on a free loopback port, as a user starts it, with a shadow.

    The shadow is the champion itself (the only version here): exported and
    verified beside it, it scores every answered request off the request path.
    """
    port = free_port()
    process = subprocess.Popen(
        ["just", "serve"],
        cwd=trained_project.path,
        env=subprocess_env({"PORT": str(port), "SHADOW_MODEL": "1.0.0"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base
    finally:
        stop_process_group(process)


def _records(path: Path) -> list[dict[str, float]]:
    with path.open(newline="") as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def test_just_serve_answers_like_just_predict(
    trained_project: InstalledProject, served: str, rows: Path
) -> None:
    expected = json.loads(trained_project.just("predict", str(rows)).stdout)
    status, answer = _post(f"{served}/predict", {"records": _records(rows)})
    assert status == 200
    assert answer["predictions"] == expected["predictions"]
    assert answer["model"]["version"] == expected["version"] == "1.0.0"


def test_model_health_and_metrics_on_a_live_server(served: str, rows: Path) -> None:
    status, body = _get(f"{served}/model")
    assert status == 200
    described = json.loads(body)
    assert described["version"] == "1.0.0"
    assert len(described["git_sha"]) == 40
    assert _get(f"{served}/health")[0] == 200
    # MLflow's scoring-server routes, as `mlflow models serve` answers them.
    assert _get(f"{served}/ping") == (200, b"\n")
    assert _get(f"{served}/version") == (200, described["mlflow_version"].encode())
    rows_sent = len(_records(rows))
    before = _samples(_get(f"{served}/metrics")[1].decode())
    _post(f"{served}/predict", {"records": _records(rows)})
    versions = {"primary_version": "1.0.0", "shadow_version": "1.0.0"}

    def moved(name: str, **labels: str) -> float:
        """How much the samples of ``name`` with ``labels`` grew since ``before``."""

        def total(samples: dict[str, list[tuple[dict[str, str], float]]]) -> float:
            return sum(v for ls, v in samples.get(name, []) if ls.items() >= labels.items())

        return total(after) - total(before)

    # The shadow scores after the answer, on its own thread: give it a moment.
    deadline = time.monotonic() + 10
    while True:
        status, metrics = _get(f"{served}/metrics")
        after = _samples(metrics.decode())
        if moved("serving_shadow_rows_total") >= rows_sent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
    assert moved("serving_predictions_total", model_version="1.0.0") == rows_sent
    # What was answered, by class (the default project is a classifier), for canary analysis.
    assert moved("serving_predicted_class_total", model_version="1.0.0") == rows_sent
    # A shadow of the same version agrees on every row it scored.
    assert moved("serving_shadow_agreement_total", result="agree", **versions) == rows_sent
    assert moved("serving_shadow_agreement_total", result="disagree", **versions) == 0


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus' text format as samples by name: (labels, value) pairs."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match:
            name, labels, value = match.groups()
            pairs = dict(re.findall(r'([a-z_]+)="([^"]*)"', labels or ""))
            samples.setdefault(name, []).append((pairs, float(value)))
    return samples


def test_a_bad_request_is_a_422_on_a_live_server(served: str) -> None:
    status, body = _post(f"{served}/predict", {"records": [{"nope": 1}]})
    assert status == 422
    assert {tuple(error["loc"][:3]) for error in body["detail"]} == {("body", "records", 0)}


def test_sigterm_answers_the_request_in_flight_then_exits(
    trained_project: InstalledProject, rows: Path
) -> None:
    """As Kubernetes stops a pod: SIGTERM to the server process, which is PID 1 in the image."""
    bundle = trained_project.path / "build" / "model"
    trained_project.just("export")
    port = free_port()
    python = str(trained_project.path / ".venv" / "bin" / "python")
    process = subprocess.Popen(
        [python, "-m", f"{trained_project.package}.serving"],
        cwd=trained_project.path,
        env=subprocess_env({"PORT": str(port), "MODEL_BUNDLE": str(bundle)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process)
        body = json.dumps({"records": _records(rows)}).encode()
        head = (
            f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            # Half a request is in flight when the signal arrives; the rest follows it.
            client.sendall(head + body[: len(body) // 2])
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            time.sleep(1)
            client.sendall(body[len(body) // 2 :])
            response = b""
            while chunk := client.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
        assert b'"predictions"' in response
        # uvicorn finishes, then re-raises the signal so the exit status says why it stopped.
        assert process.wait(timeout=30) in {0, -signal.SIGTERM}
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        stop_process_group(process)
    out = process.stdout.read() if process.stdout else ""
    logged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [line["status"] for line in logged if line["path"] == "/predict"] == [200]


def test_a_tampered_bundle_refuses_to_start_with_one_line(
    trained_project: InstalledProject, tmp_path: Path
) -> None:
    trained_project.just("export", "@champion", str(tmp_path / "bundle"))
    joblib_file = next((tmp_path / "bundle" / "model").rglob("*.joblib"))
    joblib_file.write_bytes(joblib_file.read_bytes()[:-8])
    python = str(trained_project.path / ".venv" / "bin" / "python")
    result = subprocess.run(
        [python, "-m", f"{trained_project.package}.serving", "--bundle", str(tmp_path / "bundle")],
        cwd=trained_project.path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: Model 1.0.0 failed its integrity check")
    assert len(result.stderr.strip().splitlines()) == 1
