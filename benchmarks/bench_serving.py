"""Serving: the generated project's HTTP API against ``mlflow models serve`` on the same model.

Targets, single-row requests, one worker each, concurrency 8: the project's server
answers at least 10x the throughput of ``mlflow models serve`` with at most 0.1x its
p95 latency, and reaches at least 30% of the in-process floor's rate (one validated
row through the server's own ``Predictor.predict`` in the project's venv, no HTTP;
rate = 1 / per-call time).

What the script does:

1. Renders a default project from the template's working tree (``copier copy
   --vcs-ref=HEAD``: uncommitted changes included), commits it, ``just install``,
   commits, ``just pipeline``, commits, promotes 1.0.0 to production and exports the
   champion with ``just export @champion <bundle>`` (``--project`` reuses a prepared
   project instead). Both servers serve that one bundle: ours with ``python -m
   <package>.serving`` (``MODEL_BUNDLE``, ``HOST``, ``PORT``), MLflow's with ``mlflow
   models serve -m <bundle>/model --env-manager local --workers 1``. Both run uvicorn
   with the same event loop and HTTP parser (uvloop, httptools), log every request to a
   file and get a correctness check (same prediction for the same row) and an untimed
   warm-up before anything is measured.
2. Load: ``wrk`` (one thread, keep-alive HTTP/1.1 on loopback) posting the first row of
   ``data/prepared/test.parquet`` (features only): ``{"records": [row]}`` to ours at
   ``/predict``, ``{"dataframe_records": [row]}`` to MLflow at ``/invocations``. A small
   Lua script sets the body, ends the run after ``--max-requests`` responses (LuaJIT's
   FFI signals wrk's own process; ``-d`` bounds the time) and prints wrk's latency
   histogram's p50/p90/p95/p99 as JSON from its ``done`` hook.
3. Per round (``--repeats``, default 3), at concurrency 8 then 32, both servers one after the other,
   the order swapped every round so that drift in the machine's load falls on both;
   then the floor and the per-stage costs are timed in a helper process in the project's
   venv (loaded once, so rounds do not pay its imports). Each run also records the
   server's CPU seconds per request (its process session, from ``/proc``), which
   depends far less on other jobs than wall time does.
4. Attribution of our per-request cost: the helper times, in-process, ``json.loads`` of
   the body, pydantic validation of the request model, ``Predictor.predict`` (the float
   matrix path for numeric models, else a DataFrame), ``adapter.predict`` alone, the
   fitted estimator's own ``predict`` on the DataFrame and on an array, and the whole ASGI
   app called without a socket (POST ``/predict`` and GET ``/health``); what a served
   request costs beyond the in-process app is uvicorn and the socket. Then a separate
   instance of our server runs under cProfile (enabled by signal after the warm-up, so
   start-up and imports stay out) for ``--profile-requests`` requests at concurrency 8,
   summarised by package and by function.
5. Optional (``--workers-check``): ``mlflow models serve`` with 1 and 2 uvicorn workers,
   each on uvloop and on asyncio (``UVICORN_LOOP``), at concurrency 1, rotated, to show the
   per-request stall uvicorn's multi-process mode adds on keep-alive connections (asyncio
   only: uvicorn issue 3149).
6. Prints and writes the summary (medians over rounds, ratios, verdicts, the attribution
   and the profile) to ``benchmarks/results/serving.json``; ``--raw`` also writes each
   run's figures. ``--smoke`` runs everything briefly and writes nothing: it proves the
   benchmark works, its figures mean nothing.

Requires ``wrk`` (Debian: ``apt-get install wrk``). Exits 0 when a target is missed
(the summary says so), 1 when the project or a server does not work.

Run it with ``uv run --frozen python benchmarks/bench_serving.py [--repeats 3]
[--duration 10] [--workers-check] [--smoke]``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    BenchmarkError,
    Samples,
    Summary,
    argument_parser,
    command_env,
    markdown_table,
    median,
    package_name,
    promoted_project,
    report,
    run,
)

CONCURRENCY = (8, 32)
TARGET_CONCURRENCY = 8
# At concurrency 8: ours / mlflow throughput at least 10x, p95 at most 0.1x, and ours req/s
# at least 0.3 of the in-process floor's rate (1 / one validated row's predict).
# Each paired ratio (ours / mlflow, per concurrency) and the wrk figure it divides.
PAIRED = (
    ("throughput", "rps"),
    ("p50", "p50_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("cpu_per_request", "cpu_ms_per_request"),
)
RATIO_TARGETS: dict[str, dict[str, float]] = {
    "throughput": {"at_least": 10.0},
    "p95": {"at_most": 0.1},
    "floor_share": {"at_least": 0.3},
}
SERVER_START_TIMEOUT_S = 300.0
SETUP_TIMEOUT_S = 1800.0

# wrk's Lua hooks: a fixed POST body, a request-count bound, and JSON out of `done`.
WRK_SCRIPT = r"""
local body_file = assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set")
local limit = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
local file = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

-- A SIGINT to wrk's own process wakes its main thread, which stops and reports as at -d.
local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then ffi.cdef("int kill(int pid, int sig); int getpid(void);") end
local responses = 0

function response(status, headers, body)
  responses = responses + 1
  if responses == limit and has_ffi then ffi.C.kill(ffi.C.getpid(), 2) end
end

function done(summary, latency, requests)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({50, 90, 95, 99}) do
    p[#p + 1] = string.format('"p%s_us": %.1f', q, latency:percentile(q))
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %.0f, "duration_us": %.0f, "errors": %.0f, "non_2xx": %.0f, '
      .. '"mean_us": %.1f, "min_us": %.1f, "max_us": %.1f, %s}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency.mean, latency.min, latency.max, table.concat(p, ", ")))
end
"""

# Runs in the project's venv, loaded once: the floor, the per-stage costs, the profile summary.
PROBE = r"""
import asyncio, json, logging, os, pstats, statistics, sys, time, warnings
from importlib import import_module, metadata
from pathlib import Path

import pandas as pd

package, bundle_dir, test_file = sys.argv[1:4]
served = import_module(package + ".serving.bundle").open_bundle(Path(bundle_dir))
features = [feature.name for feature in served.features]
one_row = pd.read_parquet(test_file)[features].iloc[:1]
row = one_row.to_dict(orient="records")[0]
body = json.dumps({"records": [row]}).encode()
loop = asyncio.new_event_loop()


async def timed(call, seconds):
    # `call` returns None or an awaitable; the loop runs inside one coroutine, so an
    # async stage pays no per-call event-loop start.
    async def once():
        result = call()
        if result is not None and hasattr(result, "__await__"):
            await result

    await once()
    calls, cpu, start = 0, time.process_time(), time.perf_counter()
    while True:
        await once()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 20:
            return {"wall_s": elapsed / calls, "cpu_s": (time.process_time() - cpu) / calls}


def per_call(call, seconds):
    return loop.run_until_complete(timed(call, seconds))


def asgi_call(app, method, path, payload):
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]

    async def call():
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 8000)}
        messages = [{"type": "http.request", "body": payload, "more_body": False}]
        status = []

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status != [200]:
            raise RuntimeError(f"{method} {path} answered {status}")

    return call


def stage_calls():
    calls = {"adapter.predict": lambda: served.adapter.predict(one_row)}
    missing = {}
    try:
        schema = import_module(package + ".serving.schema")
        request_model = schema.predict_request_model(schema.record_model(served.features))
        parsed = json.loads(body)
        rows = request_model.model_validate(parsed).records
        predictor = import_module(package + ".serving.predictor").Predictor(served)
        calls["json.loads"] = lambda: json.loads(body)
        calls["validate"] = lambda: request_model.model_validate(parsed)
        calls["predictor.predict"] = lambda: predictor.predict(rows)
    except Exception as exc:  # the serving code changed shape: time what still exists
        missing["request stages"] = repr(exc)
    try:  # the fitted scikit-learn estimator itself: the headroom below the adapter
        estimator = served.adapter.strategy._estimator
        matrix = one_row.to_numpy()
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        calls["estimator.predict(DataFrame)"] = lambda: estimator.predict(one_row)
        calls["estimator.predict(ndarray)"] = lambda: estimator.predict(matrix)
    except Exception as exc:
        missing["estimator"] = repr(exc)
    try:
        observability = import_module(package + ".serving.observability")
        access = logging.getLogger(observability.ACCESS_LOGGER)
        access.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # one line a request
        access.setLevel(logging.INFO)
        access.propagate = False
        app = import_module(package + ".serving.app").create_app(served)
        calls["app POST /predict"] = asgi_call(app, "POST", "/predict", body)
        calls["app GET /health"] = asgi_call(app, "GET", "/health", b"")
    except Exception as exc:
        missing["app"] = repr(exc)
    return calls, missing


EXTENSIONS = ("uvloop", "httptools", "numpy", "pandas", "pydantic_core", "sklearn")


def group_of(func):
    file, _, name = func
    if file == "~":  # a builtin: its extension module if named, else charged to its callers
        return next((ext for ext in EXTENSIONS if ext in name), None)
    if "/site-packages/" in file:
        return file.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if f"/{package}/" in file:
        return package
    parts = Path(file).parts
    for i, part in enumerate(parts[:-1]):
        if part.startswith("python3"):
            return "stdlib " + parts[i + 1].removesuffix(".py")
    return "python (frozen)" if file.startswith("<frozen") else "other"


INCLUSIVE = {
    "RequestObserver: the whole app": (f"{package}/serving/observability.py", "__call__"),
    "FastAPI request body validation": ("fastapi/dependencies/utils.py", "request_body_to_args"),
    "FastAPI response model": ("fastapi/routing.py", "serialize_response"),
    "Predictor.predict": (f"{package}/serving/predictor.py", "predict"),
    "ModelAdapter.predict": (f"{package}/models/adapter.py", "predict"),
    "pandas DataFrame() (input and output)": ("pandas/core/frame.py", "__init__"),
    "sklearn check_array": ("sklearn/utils/validation.py", "check_array"),
    "logging Logger.info": ("logging/__init__.py", "info"),
    "json.dumps": ("json/__init__.py", "dumps"),
    "prometheus Histogram.observe": ("prometheus_client/metrics.py", "observe"),
    "uuid.uuid4": ("uuid.py", "uuid4"),
}


def profile_summary(path, requests, top):
    stats = pstats.Stats(path).stats
    total = sum(entry[2] for entry in stats.values())
    groups = {}
    for func, (_, _, tottime, _, callers) in stats.items():
        group = group_of(func)
        if group is not None:
            groups[group] = groups.get(group, 0.0) + tottime
        elif not callers:
            groups["builtins"] = groups.get("builtins", 0.0) + tottime
        for caller, caller_stats in callers.items() if group is None else ():
            owner = group_of(caller) or "builtins"
            groups[owner] = groups.get(owner, 0.0) + caller_stats[2]

    def line(name, seconds):
        return {"name": name, "us_per_request": round(seconds / requests * 1e6, 1),
                "share": round(seconds / total, 3)}

    def label(func):
        return func[2] if func[0] == "~" else f"{Path(func[0]).name}:{func[1]}({func[2]})"

    ranked = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
    inclusive = []
    for name, (suffix, function) in INCLUSIVE.items():
        seconds = sum(entry[3] for func, entry in stats.items()
                      if func[0].endswith(suffix) and func[2] == function)
        if seconds:
            inclusive.append(line(name, seconds))
    return {
        "total_us_per_request": round(total / requests * 1e6, 1),
        "by_package": [line(name, s) for name, s in sorted(groups.items(), key=lambda g: -g[1])],
        "top_functions_self": [line(label(func), entry[2]) for func, entry in ranked],
        "inclusive": inclusive,
    }


def versions():
    found = {"python": sys.version.split()[0]}
    for name in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic",
                 "mlflow", "pandas", "numpy", "scikit-learn"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


calls, missing = stage_calls()
print(json.dumps({"features": features, "row": row, "versions": versions(),
                  "missing": missing}), flush=True)
for text in sys.stdin:
    command = json.loads(text)
    if command["cmd"] == "floor":
        # The floor is the server's own in-process path (a validated row to a prediction),
        # or the adapter's DataFrame predict for serving code without a Predictor.
        floor = calls.get("predictor.predict", calls["adapter.predict"])
        batches = [per_call(floor, command["seconds"])
                   for _ in range(command["batches"])]
        answer = {key: statistics.median(b[key] for b in batches) for key in ("wall_s", "cpu_s")}
    elif command["cmd"] == "stages":
        answer = {name: per_call(call, command["seconds"]) for name, call in calls.items()}
    elif command["cmd"] == "profile":
        answer = profile_summary(command["path"], command["requests"], command["top"])
    else:
        break
    print(json.dumps(answer), flush=True)
"""

# Our server under cProfile: enabled and dumped by signal, so start-up and warm-up stay out.
PROFILED_SERVER = r"""
import cProfile, os, runpy, signal, sys
path, module = sys.argv[1], sys.argv[2]
profiler = cProfile.Profile()

def start(*_):
    profiler.enable()

def stop(*_):
    profiler.disable()
    profiler.dump_stats(path + ".part")
    os.replace(path + ".part", path)

signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@dataclass
class Server:
    """One running server, its prediction endpoint and the body it is sent."""

    name: str
    port: int
    path: str
    body: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """The prediction endpoint."""
        return f"http://127.0.0.1:{self.port}{self.path}"


@dataclass
class Rounds:
    """Per round results: one wrk summary per server and concurrency, floor and stages."""

    load: dict[str, dict[int, list[dict[str, float]]]] = field(default_factory=dict)
    floor: list[dict[str, float]] = field(default_factory=list)
    stages: list[dict[str, dict[str, float]]] = field(default_factory=list)

    def add(self, server: str, concurrency: int, result: dict[str, float]) -> None:
        """Record one wrk run."""
        self.load.setdefault(server, {}).setdefault(concurrency, []).append(result)


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request on a fresh connection; the status and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def mlflow_command(venv_bin: Path, bundle: Path, port: int, workers: int) -> list[str]:
    """``mlflow models serve`` of the bundle's MLflow model, in the project's own venv."""
    return [
        str(venv_bin / "mlflow"), "models", "serve", "-m", str(bundle / "model"),
        "--env-manager", "local", "--workers", str(workers), "-p", str(port), "-h", "127.0.0.1",
    ]  # fmt: skip


def session_cpu(session: int) -> float:
    """User + system CPU seconds of the live processes in ``session`` (a server's tree)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[3]) == session:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(
    name: str, args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in a session of its own; stop the whole session afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        # MLflow's CLI runs uvicorn as a child: make sure nothing of the session is left.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_ready(server: Server, probe: str) -> None:
    """Return once ``probe`` answers 200.

    Raises:
        BenchmarkError: the server exited or did not come up in time.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < SERVER_START_TIMEOUT_S:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            raise BenchmarkError(f"{server.name} exited with {server.process.returncode}:\n{tail}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(server.port, "GET", probe)[0] == 200:
                return
        time.sleep(0.5)
    raise BenchmarkError(f"{server.name} did not answer {probe} in {SERVER_START_TIMEOUT_S} s")


def load(
    server: Server, script: Path, *, concurrency: int, seconds: float, max_requests: int
) -> dict[str, float]:
    """One wrk run against ``server``: throughput, latency percentiles, server CPU.

    Raises:
        BenchmarkError: wrk failed, or no request succeeded.
    """
    env = {**os.environ, "BENCH_BODY": str(server.body), "BENCH_MAX_REQUESTS": str(max_requests)}
    wrk = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "30s", "-s"]
    cpu_before = session_cpu(server.process.pid)
    result = run([*wrk, str(script), server.url], script.parent, env, timeout=seconds + 120)
    cpu = session_cpu(server.process.pid) - cpu_before
    line = next(
        (text for text in result.stdout.splitlines() if text.startswith("BENCH_JSON ")), None
    )
    if line is None:
        raise BenchmarkError(f"wrk printed no summary:\n{result.stdout[-2000:]}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    if raw["requests"] == 0:
        raise BenchmarkError(f"{server.name}: no request completed:\n{result.stdout[-2000:]}")
    ms = {key.removesuffix("_us") + "_ms": raw[key] / 1000 for key in raw if key.endswith("_us")}
    return {
        "requests": raw["requests"],
        "errors": raw["errors"] + raw["non_2xx"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "cpu_ms_per_request": cpu / raw["requests"] * 1000,
        **ms,
    }


class Probe:
    """The helper process in the project's venv (floor, stages, profile summaries)."""

    def __init__(self, python: Path, package: str, bundle: Path, project: Path) -> None:
        test_file = project / "data" / "prepared" / "test.parquet"
        self.process = subprocess.Popen(
            [str(python), "-c", PROBE, package, str(bundle), str(test_file)],
            cwd=project, env=command_env(bytecode_cache=True), text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.hello = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise BenchmarkError(f"the probe exited with {self.process.wait()}; see stderr above")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Send one command; its JSON answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        """End the helper."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def check_same_prediction(ours: Server, mlflow: Server) -> Any:
    """Both servers answer 200 with the same prediction for the benchmark's row.

    Raises:
        BenchmarkError: a server refused the request or the predictions differ.
    """
    answers = {}
    for server in (ours, mlflow):
        status, body = request(server.port, "POST", server.path, server.body.read_bytes())
        if status != 200:
            raise BenchmarkError(f"{server.name} answered {status}: {body[:500]!r}")
        answers[server.name] = json.loads(body)["predictions"][0]
    if answers["ours"] != answers["mlflow"]["prediction"]:
        raise BenchmarkError(f"the servers disagree on the same row: {answers}")
    return answers["ours"]


def summarise_load(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Medians over rounds (and the spread of throughput) of one server at one concurrency."""
    keys = ("rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "cpu_ms_per_request")
    out = {key: round(median([r[key] for r in runs]), 3) for key in keys}
    out |= {
        "rps_min": round(min(r["rps"] for r in runs), 2),
        "rps_max": round(max(r["rps"] for r in runs), 2),
        "requests": sum(int(r["requests"]) for r in runs),
        "errors": sum(int(r["errors"]) for r in runs),
    }
    return out


def summarise(summary: Summary, rounds: Rounds, hello: Mapping[str, Any]) -> Samples:
    """Medians, paired per-round ratios against their targets, the in-process attribution.

    Returns each run's figures, for ``--raw``.
    """
    samples = Samples()
    load_summary = {
        name: {str(c): summarise_load(runs) for c, runs in by_c.items()}
        for name, by_c in rounds.load.items()
    }
    for name, by_c in rounds.load.items():
        for c, runs in by_c.items():
            for key in ("rps", "p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_request"):
                for run_ in runs:
                    samples.note(f"{name}.c{c}.{key}", run_[key])
            summary.measure(f"{name}.c{c}.rps", [r["rps"] for r in runs], unit="req/s", digits=1)
            summary.measure(f"{name}.c{c}.p95", [r["p95_ms"] for r in runs], unit="ms", digits=2)
    ours, theirs = rounds.load["ours"], rounds.load["mlflow"]
    for c in ours:
        pairs = list(zip(ours[c], theirs[c], strict=True))
        targets = RATIO_TARGETS if c == TARGET_CONCURRENCY else {}
        for key, measured in PAIRED:
            summary.ratio(
                f"{key}_c{c}",
                median([o[measured] / m[measured] for o, m in pairs]),
                of=f"ours / mlflow {measured}, concurrency {c}, paired per round; median",
                digits=4,
                **targets.get(key, {}),
            )
    target = ours[TARGET_CONCURRENCY]
    for floor in rounds.floor:
        samples.note("floor.wall_s", floor["wall_s"])
        samples.note("floor.cpu_s", floor["cpu_s"])
    floor_wall = median([f["wall_s"] for f in rounds.floor])
    summary.ratio(
        "floor_share_c8",
        median([o["rps"] * f["wall_s"] for o, f in zip(target, rounds.floor, strict=True)]),
        of="ours req/s x the floor's seconds a call, concurrency 8, per round; median",
        digits=4,
        **RATIO_TARGETS["floor_share"],
    )
    summary.ratio(
        "floor_share_cpu_c8",
        median(
            [
                f["cpu_s"] * 1000 / o["cpu_ms_per_request"]
                for o, f in zip(target, rounds.floor, strict=True)
            ]
        ),
        of="the floor's CPU a call / ours CPU a request, concurrency 8, per round; median",
        digits=4,
    )
    stages = {
        name: {
            "wall_us": round(median([s[name]["wall_s"] for s in rounds.stages]) * 1e6, 1),
            "cpu_us": round(median([s[name]["cpu_s"] for s in rounds.stages]) * 1e6, 1),
        }
        for name in rounds.stages[0]
    }
    served_wall_us = 1e6 / load_summary["ours"][str(TARGET_CONCURRENCY)]["rps"]
    served_cpu_us = load_summary["ours"][str(TARGET_CONCURRENCY)]["cpu_ms_per_request"] * 1000
    app = stages.get("app POST /predict")
    summary.details |= {
        "load": load_summary,
        "floor": {
            "predict_wall_us": round(floor_wall * 1e6, 1),
            "predict_cpu_us": round(median([f["cpu_s"] for f in rounds.floor]) * 1e6, 1),
            "rate_per_s": round(1 / floor_wall, 1),
        },
        "stages": stages,
        "stages_unavailable": hello.get("missing", {}),
        "attribution": {
            "served_request_wall_us_c8": round(served_wall_us, 1),
            "served_request_cpu_us_c8": round(served_cpu_us, 1),
            "beyond_app_cpu_us (uvicorn, socket, event loop)": (
                round(served_cpu_us - app["cpu_us"], 1) if app else None
            ),
        },
    }
    return samples


def profile_ours(
    project: Path, python: Path, package: str, env: Mapping[str, str], work: Path,
    script: Path, body: Path, probe: Probe, *, requests: int, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """Our server under cProfile for ``requests`` requests at concurrency 8, summarised."""
    port = free_port()
    stats = work / "ours.prof"
    args = [str(python), "-c", PROFILED_SERVER, str(stats), f"{package}.serving"]
    with serving(
        "ours (profiled)", args, {**env, "PORT": str(port)}, project, work / "prof.log"
    ) as proc:
        server = Server("ours (profiled)", port, "/predict", body, proc, work / "prof.log")
        wait_ready(server, "/ready")
        load(server, script, concurrency=TARGET_CONCURRENCY, seconds=5, max_requests=500)
        os.kill(proc.pid, signal.SIGUSR1)
        result = load(
            server, script, concurrency=TARGET_CONCURRENCY, seconds=seconds, max_requests=requests
        )
        os.kill(proc.pid, signal.SIGUSR2)
        deadline = time.perf_counter() + 60
        while not stats.exists() and time.perf_counter() < deadline:
            time.sleep(0.2)
    summary = probe.ask(
        {"cmd": "profile", "path": str(stats), "requests": result["requests"], "top": 15}
    )
    return {
        "requests": int(result["requests"]),
        "rps_under_profiler": round(result["rps"], 1),
        "timer": "wall clock (cProfile default), main thread only",
        **summary,
    }


# (workers, uvicorn event loop) beside the one-worker server of the main rounds (uvloop, the
# default whenever it is installed, as in both servers' environments here).
WORKER_VARIANTS: dict[str, tuple[int, str | None]] = {
    "workers_2": (2, None),
    "workers_1_asyncio": (1, "asyncio"),
    "workers_2_asyncio": (2, "asyncio"),
}


def workers_check(
    mlflow: Server, venv_bin: Path, bundle: Path, env: Mapping[str, str], cwd: Path,
    work: Path, script: Path, *, rounds: int, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """``mlflow models serve --workers 2`` against one worker, per event loop, concurrency 1.

    uvicorn's loop is chosen with ``UVICORN_LOOP`` (MLflow's CLI passes no loop option).
    """
    with contextlib.ExitStack() as stack:
        servers = {"workers_1": mlflow}
        for name, (workers, loop) in WORKER_VARIANTS.items():
            port = free_port()
            args = mlflow_command(venv_bin, bundle, port, workers=workers)
            log = work / f"mlflow-{name}.log"
            extra = {"UVICORN_LOOP": loop} if loop else {}
            proc = stack.enter_context(serving(name, args, {**env, **extra}, cwd, log))
            servers[name] = Server(name, port, "/invocations", mlflow.body, proc, log)
        for server in servers.values():
            wait_ready(server, "/ping")
            load(server, script, concurrency=1, seconds=3, max_requests=200)  # warm-up
        results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        order = list(servers)
        for round_ in range(rounds):
            for name in order[round_ % len(order) :] + order[: round_ % len(order)]:
                results[name].append(
                    load(servers[name], script, concurrency=1, seconds=seconds, max_requests=2000)
                )
    keys = ("rps", "p50_ms", "p95_ms", "min_ms")
    return {
        name: {key: round(median([r[key] for r in runs]), 2) for key in keys}
        for name, runs in results.items()
    }


def wrk_version() -> str:
    """wrk's own version line (it prints it with its usage)."""
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).splitlines()[0].strip()


def print_load(details: Mapping[str, Any]) -> None:
    """The load table (medians over rounds) and the floor, for the terminal."""
    keys = ("rps", "p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_request")
    rows = [
        [name, int(c), *(row[key] for key in keys)]
        for name, by_c in details["load"].items()
        for c, row in by_c.items()
    ]
    print()
    print(markdown_table(("server", "c", "req/s", "p50 ms", "p95 ms", "p99 ms", "cpu ms"), rows))
    floor = details["floor"]
    wall, rate = floor["predict_wall_us"], floor["rate_per_s"]
    print(f"\nfloor: one-row in-process predict {wall:.0f} µs, {rate:.0f}/s")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options; ``--smoke`` shrinks every bound and writes nothing."""
    parser = argument_parser(
        __doc__, benchmark="serving", repeats=3, repeats_help="interleaved rounds"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run, at most")
    parser.add_argument("--max-requests", type=int, default=20000, help="requests per run, at most")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed seconds per server")
    parser.add_argument(
        "--floor-seconds", type=float, default=1.0, help="per floor batch (3 a round)"
    )
    parser.add_argument("--profile-requests", type=int, default=3000, help="0: no profile")
    parser.add_argument("--profile-seconds", type=float, default=40.0, help="profile time bound")
    parser.add_argument(
        "--workers-check", action="store_true", help="also time mlflow --workers 1/2 at c=1"
    )
    parser.add_argument(
        "--project", type=Path, default=None, help="reuse a prepared project (a champion set)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="one short round of everything; writes nothing"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats, args.duration, args.max_requests, args.warmup = 1, 1.0, 300, 1.0
        args.floor_seconds, args.profile_requests, args.profile_seconds = 0.2, 200, 5.0
        args.no_write, args.raw = True, None
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare a project, serve its champion twice, load both, write the summary."""
    args = parse_args(argv)
    env = command_env()
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    with (
        tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        if args.project is None:
            log("rendering, installing and training a default project")
            project = promoted_project(work, env)
        else:
            project = args.project.resolve()
        package = package_name(project)
        bundle = work / "bundle"
        run(["just", "export", "@champion", str(bundle)], project, env, timeout=600)
        venv_bin = project / ".venv" / "bin"
        server_env = env | {
            "PATH": os.pathsep.join([str(venv_bin), env["PATH"]]),  # mlflow execs `uvicorn`
            "MODEL_BUNDLE": str(bundle),
            "HOST": "127.0.0.1",
        }
        ours_port, mlflow_port = free_port(), free_port()
        ours_args = [str(venv_bin / "python"), "-m", f"{package}.serving"]
        mlflow_args = mlflow_command(venv_bin, bundle, mlflow_port, workers=1)
        log("starting both servers")
        launched = time.perf_counter()
        ours_proc = stack.enter_context(
            serving(
                "ours", ours_args, server_env | {"PORT": str(ours_port)}, project, work / "ours.log"
            )
        )
        mlflow_proc = stack.enter_context(
            serving("mlflow", mlflow_args, server_env, project, work / "mlflow.log")
        )
        ours = Server(
            "ours", ours_port, "/predict", work / "ours.json", ours_proc, work / "ours.log"
        )
        mlflow = Server(
            "mlflow",
            mlflow_port,
            "/invocations",
            work / "mlflow.json",
            mlflow_proc,
            work / "mlflow.log",
        )
        start_s = {}
        for server, ready_path in ((ours, "/ready"), (mlflow, "/ping")):
            wait_ready(server, ready_path)
            start_s[server.name] = round(time.perf_counter() - launched, 1)
        log("both up; starting the in-process probe")
        probe = Probe(venv_bin / "python", package, bundle, project)
        stack.callback(probe.close)
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        row = probe.hello["row"]
        ours.body.write_text(json.dumps({"records": [row]}), encoding="utf-8")
        mlflow.body.write_text(json.dumps({"dataframe_records": [row]}), encoding="utf-8")
        prediction = check_same_prediction(ours, mlflow)
        log(f"same prediction from both ({prediction!r}); warming up")
        summary = Summary(
            "serving",
            versions=probe.hello["versions"] | {"wrk": wrk_version()},
            settings={
                "repeats": args.repeats,
                "duration_s": args.duration,
                "max_requests": args.max_requests,
                "concurrency": list(CONCURRENCY),
                "load_generator": "wrk -t1 (keep-alive HTTP/1.1, loopback), Lua POST body",
                "model": {"features": len(probe.hello["features"]), "prediction": prediction},
                "server_start_s (both launched together)": start_s,
            },
        )
        for server in (ours, mlflow):
            load(
                server,
                script,
                concurrency=TARGET_CONCURRENCY,
                seconds=args.warmup,
                max_requests=2000,
            )
        rounds = Rounds()
        for round_ in range(args.repeats):
            order = [ours, mlflow] if round_ % 2 == 0 else [mlflow, ours]
            for concurrency in CONCURRENCY:
                for server in order:
                    result = load(
                        server, script, concurrency=concurrency,
                        seconds=args.duration, max_requests=args.max_requests,
                    )  # fmt: skip
                    rounds.add(server.name, concurrency, result)
                    log(
                        f"round {round_ + 1} {server.name:6} c={concurrency:<2} "
                        f"{result['rps']:8.1f} req/s  p95 {result['p95_ms']:8.2f} ms"
                    )
            rounds.floor.append(
                probe.ask({"cmd": "floor", "seconds": args.floor_seconds, "batches": 3})
            )
            rounds.stages.append(probe.ask({"cmd": "stages", "seconds": args.floor_seconds / 2}))
        samples = summarise(summary, rounds, probe.hello)
        if args.profile_requests > 0:
            log("profiling our server")
            summary.details["profile"] = profile_ours(
                project, venv_bin / "python", package, server_env, work, script, ours.body, probe,
                requests=args.profile_requests, seconds=args.profile_seconds,
            )  # fmt: skip
        if args.workers_check:
            log("mlflow --workers 2 against one worker, uvloop and asyncio, concurrency 1")
            summary.details["workers_check_c1"] = workers_check(
                mlflow, venv_bin, bundle, server_env, project, work, script,
                rounds=2, seconds=min(args.duration, 5.0),
            )  # fmt: skip
    summary.details["benchmark_wall_s"] = round(time.perf_counter() - started, 1)
    print_load(summary.details)
    report(args, summary, samples)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
