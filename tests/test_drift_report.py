"""`just drift` in a generated project: exit statuses, reports, tags, and the HTML in Chromium.

The batches are the project's held-out rows (no drift), the same rows with
three features moved by one standard deviation (drift), those rows again as
a directory of Parquet partitions (the same report), too few rows, and
broken files. The HTML report is opened in headless Chromium through the
DevTools protocol (over a pipe, stdlib only): the page must raise no console
message, script exception or failed load, and a screenshot of it goes to
the docs. A deliberately broken page proves the listener hears errors.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import TEMPLATE_ROOT, InstalledProject, run

pytestmark = pytest.mark.e2e

SCREENSHOT = TEMPLATE_ROOT / "docs" / "img" / "drift-report.png"
SHIFTED = ("mean_radius", "mean_texture", "worst_area")
MAKE_BATCHES = f"""
import sys
from pathlib import Path
import pandas as pd
out = Path(sys.argv[1])
rows = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"])
rows.to_csv(out / "unshifted.csv", index=False)
shifted = rows.copy()
for name in {SHIFTED!r}:
    shifted[name] += shifted[name].std()
shifted.to_parquet(out / "shifted.parquet")
(out / "shifted-parts").mkdir()
for index, (start, end) in enumerate([(0, 7), (7, 60), (60, len(shifted))]):
    shifted.iloc[start:end].to_parquet(out / "shifted-parts" / f"part-{{index}}.parquet")
rows.head(20).to_csv(out / "small.csv", index=False)
rows.drop(columns=["mean_area"]).to_csv(out / "no-area.csv", index=False)
(out / "rows.json").write_text("{{}}")
"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_SECONDS = 60


def _as_fds_3_and_4(read: int, write: int) -> Callable[[], None]:
    """In the child: the pipe ends where ``--remote-debugging-pipe`` expects them.

    Both are first copied above 10, so moving one cannot overwrite the other.
    """

    def move() -> None:
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (read, write)]
        os.dup2(high[0], 3)
        os.dup2(high[1], 4)

    return move


class DevTools:
    """A headless Chromium driven over ``--remote-debugging-pipe`` (NUL-separated JSON)."""

    def __init__(self, browser: str) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        self._profile = tempfile.mkdtemp(prefix="drift-chromium-")
        self.process = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={self._profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=_as_fds_3_and_4(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command (to the attached page once there is one) and wait for its answer."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._read())

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            assert chunk, "Chromium closed its DevTools pipe"
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def open(self, url: str, width: int = 1200) -> None:
        """A new page, attached, with console, log and page events on, loaded with ``url``."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def problems(self) -> list[str]:
        """Console messages, uncaught exceptions and failed loads seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in {"error", "warning"}:
                found.append(f"log: {params['entry'].get('text')}")
        return found

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"][
            "value"
        ]

    def screenshot(self, height: int) -> bytes:
        clip = {"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1}
        data = self.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )
        return base64.b64decode(data["data"])

    def close(self) -> None:
        try:
            self.session = ""
            self.call("Browser.close")
            self.process.wait(timeout=BROWSER_SECONDS)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            os.close(self._to_browser)
            os.close(self._from_browser)
            shutil.rmtree(self._profile, ignore_errors=True)


@pytest.fixture(scope="module")
def batches(trained_project: InstalledProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("drift-batches")
    run(["uv", "run", "--frozen", "python", "-c", MAKE_BATCHES, str(out)], trained_project.path)
    return out


def _drift(project: InstalledProject, *args: str) -> subprocess.CompletedProcess[str]:
    return project.just("drift", *args, check=False)


def _lines(text: str) -> list[str]:
    """Output lines that are not just's own echo of the recipe and its failure."""
    return [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith(("uv run", "error: recipe"))
    ]


def test_drift_exit_statuses_reports_and_tags(
    trained_project: InstalledProject, batches: Path
) -> None:
    unshifted = _drift(trained_project, str(batches / "unshifted.csv"))
    assert unshifted.returncode == 0, unshifted.stderr
    assert _lines(unshifted.stdout)[0].startswith("no drift in 30 features")

    shifted = _drift(trained_project, str(batches / "shifted.parquet"), "1.0.0")
    assert shifted.returncode == 1, shifted.stderr
    (line,) = _lines(shifted.stdout)
    assert "drift in 3 of 30 features" in line
    assert "recorded drift_check=failed" in line
    report_html = line.rsplit("report ", 1)[1]
    assert not Path(report_html).is_absolute()
    report = json.loads((trained_project.path / report_html).with_suffix(".json").read_text())
    assert report["verdict"] == "drift"
    assert sorted(report["drifted_features"]) == sorted(SHIFTED)
    assert report["version"] == "1.0.0"

    info = json.loads(trained_project.just("models", "info", "1.0.0").stdout)
    tags = info["tags"]
    assert tags["drift_check"] == "failed"
    assert tags["drift_check.source"] == "computed"
    assert tags["drift_check.report_html"] == report_html
    assert tags["drift_check.batch_sha256"] == report["batch_sha256"]
    assert info["history"][-1]["action"] == "drift-check-failed"

    parts = _drift(trained_project, str(batches / "shifted-parts"), "1.0.0")
    assert parts.returncode == 1, parts.stderr
    parts_html = _lines(parts.stdout)[0].rsplit("report ", 1)[1]
    parts_report = json.loads((trained_project.path / parts_html).with_suffix(".json").read_text())
    assert parts_report["batch"] == "shifted-parts"
    assert parts_report["features"] == report["features"]

    for batch, message in (
        ("small.csv", "not enough data: 20 rows, at least 100 needed"),
        ("no-area.csv", "missing 1 feature column(s): mean_area"),
        ("rows.json", "unknown file type '.json'"),
        ("absent.csv", "absent.csv: not found"),
    ):
        refused = _drift(trained_project, str(batches / batch))
        assert refused.returncode == 2, (batch, refused.stdout, refused.stderr)
        (error,) = _lines(refused.stderr)
        assert error.startswith("error: ")
        assert message in error
    after = json.loads(trained_project.just("models", "info", "1.0.0").stdout)["tags"]
    assert after["drift_check.batch_sha256"] == parts_report["batch_sha256"]


def test_the_exported_bundle_carries_the_verified_profile(
    trained_project: InstalledProject, tmp_path: Path
) -> None:
    trained_project.just("export", "@champion", str(tmp_path / "bundle"))
    provenance = json.loads((tmp_path / "bundle" / "provenance.json").read_text())
    assert "artifacts/reference_profile.json" in provenance["artifacts"]
    profile = json.loads((tmp_path / "bundle/model/artifacts/reference_profile.json").read_text())
    assert len(profile["features"]) == 30


def test_the_html_report_renders_without_errors_in_chromium(
    trained_project: InstalledProject, batches: Path, tmp_path: Path
) -> None:
    assert CHROMIUM is not None, "Chromium is missing: run tasks/system-packages.sh"
    shifted = _drift(trained_project, str(batches / "shifted.parquet"))
    report = trained_project.path / _lines(shifted.stdout)[0].rsplit("report ", 1)[1]
    broken = tmp_path / "broken.html"
    broken.write_text('<img src="missing.png"><script>console.error("on purpose")</script>')

    browser = DevTools(CHROMIUM)
    try:
        browser.open(broken.as_uri())
        assert browser.problems(), "the listener heard nothing from a page that logs an error"
        browser.events.clear()
        browser.open(report.as_uri())
        assert browser.problems() == []
        assert browser.evaluate("document.getElementById('verdict').textContent").startswith(
            "drift in 3 of 30 features"
        )
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 30
        assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
        image = browser.screenshot(height=1500)
    finally:
        browser.close()
    assert image.startswith(b"\x89PNG")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(image)
