"""Serving: the generated API against ``mlflow models serve`` on one model, and with a shadow.

Targets, single-row requests, one worker each, concurrency 8: at least 10x the throughput
of ``mlflow models serve`` and at most 0.1x its p95; at least 30% of the in-process floor's
rate (one validated row through the server's ``Predictor.predict``, no HTTP); the
primary's p95 with a shadow model loaded (``SHADOW_MODEL`` naming a second registered
version, exported to ``SHADOW_BUNDLE``) at most 1.2x its p95 without. A trained project,
1.0.0 in production and a second version registered; the champion's bundle is served by
ours (``python -m <package>.serving``), ours with the shadow and MLflow's (``--workers
1``), each checked to give the same answer, then warmed up. wrk (one thread, keep-alive,
loopback, a Lua POST body) loads each server per round at concurrency 8 and 32, rotated;
each run also records the server's CPU per request. After each round a probe in the
project's venv times the floor and the per-request stages in-process. ``--smoke``:
everything briefly, nothing written. Needs ``wrk`` (``apt-get install wrk``). Results:
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import harness
from harness import BenchmarkError, Samples, Summary, last_json, median, run

CONCURRENCY, AT = (8, 32), 8  # AT: the targets' concurrency
FIGURES = {"throughput": "rps", "p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}
FIGURES["cpu_per_request"] = "cpu_ms_per_request"
PAIRS = {  # (candidate, reference): ratio name prefix, figures, targets at concurrency AT
    ("ours", "mlflow"): ("", FIGURES, {"throughput": ">= 10", "p95": "<= 0.1"}),
    ("shadow", "ours"): ("shadow_", ("p50", "p95", "p99"), {"p95": "<= 1.2"}),
}
FLOOR_SHARE = ">= 0.3"
WRK_SCRIPT = r"""
local file = assert(io.open(assert(os.getenv("BENCH_BODY")), "rb"))
local limit = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
wrk.method, wrk.body = "POST", file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
-- A SIGINT to wrk's own process stops it and reports, as at -d: a request-count bound.
local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then ffi.cdef("int kill(int pid, int sig); int getpid(void);") end
local responses = 0
function response(status, headers, body)
  responses = responses + 1
  if responses == limit and has_ffi then ffi.C.kill(ffi.C.getpid(), 2) end
end
function done(summary, latency, requests)
  local e, p = summary.errors, {}
  for _, q in ipairs({50, 90, 95, 99}) do
    p[#p + 1] = string.format('"p%s_us": %.1f', q, latency:percentile(q))
  end
  io.write(string.format('BENCH_JSON {"requests": %.0f, "duration_us": %.0f, '
    .. '"errors": %.0f, "mean_us": %.1f, %s}\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status, latency.mean, table.concat(p, ", ")))
end
"""
# In the project's venv: the floor (3 batches) and each stage of a request, in-process.
PROBE = r"""
import asyncio, json, logging, os, statistics, sys, time, warnings
from importlib import import_module, metadata
from pathlib import Path
import pandas as pd
package, bundle, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
serving = lambda name: import_module(f"{package}.serving.{name}")
served = serving("bundle").open_bundle(bundle)
features = [feature.name for feature in served.features]
one_row = pd.read_parquet("data/prepared/test.parquet")[features].iloc[:1]
row = one_row.to_dict(orient="records")[0]
body = json.dumps({"records": [row]}).encode()
schema = serving("schema")
request_model = schema.predict_request_model(schema.record_model(served.features))
parsed = json.loads(body)
rows = request_model.model_validate(parsed).records
predictor = serving("predictor").Predictor(served)
estimator, matrix = served.adapter.strategy._estimator, one_row.to_numpy()
warnings.filterwarnings("ignore", message="X does not have valid feature names")
access = logging.getLogger(serving("observability").ACCESS_LOGGER)
access.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # a line a request, as served
access.setLevel(logging.INFO)
access.propagate = False
app = serving("app").create_app(served)

def asgi(method, path, payload):
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    async def call():
        messages, status = [{"type": "http.request", "body": payload}], []
        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}
        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
        await app(dict(scope), receive, send)
        assert status == [200], f"{method} {path} answered {status}"
    return call

async def per_call(call, seconds):  # in one coroutine: an async stage pays no loop start-up
    async def once():
        result = call()
        if hasattr(result, "__await__"):
            await result
    await once()
    calls, cpu, start = 0, time.process_time(), time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls < 20:
        await once()
        calls += 1
    return {"wall_s": elapsed / calls, "cpu_s": (time.process_time() - cpu) / calls}

stages = {
    "json.loads": lambda: json.loads(body),
    "validate": lambda: request_model.model_validate(parsed),
    "predictor.predict": lambda: predictor.predict(rows),
    "adapter.predict": lambda: served.adapter.predict(one_row),
    "estimator.predict(DataFrame)": lambda: estimator.predict(one_row),
    "estimator.predict(ndarray)": lambda: estimator.predict(matrix),
    "app POST /predict": asgi("POST", "/predict", body),
    "app GET /health": asgi("GET", "/health", b""),
}
run = asyncio.new_event_loop().run_until_complete
floor = [run(per_call(stages["predictor.predict"], seconds)) for _ in range(3)]
names = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "mlflow",
         "pandas", "numpy", "scikit-learn")
print(json.dumps({
    "row": row, "features": len(features),
    "versions": {"python": sys.version.split()[0], **{n: metadata.version(n) for n in names}},
    "floor": {key: statistics.median(b[key] for b in floor) for key in ("wall_s", "cpu_s")},
    "stages": {name: run(per_call(call, seconds / 2)) for name, call in stages.items()},
}))
"""


class Server(NamedTuple):
    """One running server: its name, port, prediction path, the body it is sent, its pid."""

    name: str
    port: int
    path: str
    body: Path
    pid: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def session_cpu(session: int) -> float:
    """User + system CPU seconds of the live processes in ``session`` (a server's tree)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):  # it ended while we looked
            fields = stat.read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12]) if int(fields[3]) == session else 0
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(name: str, args: list[str], env: Mapping[str, str], work: Path) -> Iterator[Server]:
    """A server in a session of its own, once ready; its whole session stopped afterwards."""
    port, log, path = free_port(), work / f"{name}.log", "/predict"
    if "mlflow" in args[0]:
        args, path = [*args, "-p", str(port)], "/invocations"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env={**env, "PORT": str(port)}, cwd=work / "project", stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        ready, deadline = "/ready" if path == "/predict" else "/ping", time.perf_counter() + 300
        while process.poll() is None and time.perf_counter() < deadline:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request(port, "GET", ready)[0] == 200:
                    yield Server(name, port, path, work / f"{name}.json", process.pid)
                    return
            time.sleep(0.5)
        raise BenchmarkError(f"{name} did not come up: {log.read_text(errors='replace')[-3000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            os.killpg(process.pid, signal.SIGKILL)  # MLflow's CLI runs uvicorn as a child
        process.wait()


def load(server: Server, script: Path, c: int, seconds: float, most: int) -> dict[str, float]:
    """One wrk run: throughput, latency percentiles (ms) and the server's CPU per request."""
    env = harness.command_env(BENCH_BODY=str(server.body), BENCH_MAX_REQUESTS=str(most))
    wrk = ["wrk", "-t1", f"-c{c}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script)]
    url, cpu = f"http://127.0.0.1:{server.port}{server.path}", session_cpu(server.pid)
    out = run([*wrk, url], script.parent, env, timeout=seconds + 120).stdout
    cpu = session_cpu(server.pid) - cpu
    found = re.search(r"^BENCH_JSON (.*)$", out, re.MULTILINE)
    raw = json.loads(found.group(1)) if found else {"requests": 0}
    if not raw["requests"]:
        raise BenchmarkError(f"{server.name}: no request completed:\n{out[-2000:]}")
    ms = {key[:-3] + "_ms": raw[key] / 1000 for key in raw if key.endswith("_us")}
    rps = raw["requests"] / (raw["duration_us"] / 1e6)
    return raw | ms | {"rps": rps, "cpu_ms_per_request": cpu / raw["requests"] * 1000}


def prediction(server: Server) -> Any:
    """The server's answer to the benchmark's row (ours: the value; MLflow's: its field)."""
    status, body = request(server.port, "POST", server.path, server.body.read_bytes())
    if status != 200:
        raise BenchmarkError(f"{server.name} answered {status}: {body[:500]!r}")
    answer = json.loads(body)["predictions"][0]
    return answer["prediction"] if isinstance(answer, dict) else answer


def summarise(summary: Summary, runs: dict[str, dict[int, list[dict[str, float]]]]) -> None:
    """Medians per server, paired per-round ratios against their targets, the floor share."""
    for name, by_c in runs.items():
        for c, done in by_c.items():
            summary.measure(f"{name}.c{c}.rps", [r["rps"] for r in done], unit="req/s", digits=1)
            summary.measure(f"{name}.c{c}.p95", [r["p95_ms"] for r in done], unit="ms", digits=2)
    for (candidate, reference), (prefix, figures, targets) in PAIRS.items():
        for c in CONCURRENCY:
            for figure in figures:
                key, pairs = (
                    FIGURES[figure],
                    zip(runs[candidate][c], runs[reference][c], strict=True),
                )
                summary.ratio(
                    f"{prefix}{figure}_c{c}", median(a[key] / b[key] for a, b in pairs),
                    of=f"{candidate} / {reference} {key}, concurrency {c}, paired rounds; median",
                    digits=4, target=targets.get(figure) if c == AT else None,
                )  # fmt: skip
    floors, ours = summary.details.pop("floors"), runs["ours"][AT]
    share = median(o["rps"] * f["wall_s"] for o, f in zip(ours, floors, strict=True))
    of = "ours req/s x the floor's seconds a call, concurrency 8, paired rounds; median"
    summary.ratio("floor_share_c8", share, of=of, digits=4, target=FLOOR_SHARE)
    share = median(
        f["cpu_s"] * 1e3 / o["cpu_ms_per_request"] for o, f in zip(ours, floors, strict=True)
    )
    of = "the floor's CPU a call / ours CPU a request, concurrency 8; median"
    summary.ratio("floor_share_cpu_c8", share, of=of, digits=4)
    keys = ("rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "cpu_ms_per_request")
    summary.details["load"] = {name: {} for name in runs}
    for name, by_c in runs.items():
        for c, done in by_c.items():
            row = {k: round(median(r[k] for r in done), 3) for k in keys}
            summary.details["load"][name][str(c)] = row | {"errors": sum(r["errors"] for r in done)}
    wall = median(f["wall_s"] for f in floors)
    summary.details["floor"] = {"predict_wall_us": round(wall * 1e6, 1), "rate_per_s": 1 / wall}
    stages = summary.details["stages"]
    summary.details["stages"] = {
        name: {k[:-2] + "_us": round(median(s[name][k] for s in stages) * 1e6, 1) for k in keys}
        for name in stages[0]
        for keys in [("wall_s", "cpu_s")]
    }


def benchmark(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        if args.project:
            (work / "project").symlink_to(args.project.resolve())
        else:
            harness.new_project(work, promote=True)
        project = work / "project"
        package, venv = harness.package_name(project), project / ".venv" / "bin"
        harness.log("a second registered version for the shadow: just pipeline --force")
        run(["just", "pipeline", "--force"], project, timeout=1800)
        listed = run([str(venv / package), "models", "list"], project, timeout=300).stdout
        found = set(re.findall(r"\b\d+\.\d+\.\d+\b", listed)) - {"1.0.0"}
        shadow = max(found, key=lambda v: tuple(map(int, v.split("."))))
        run(["just", "export", "@champion", f"{tmp}/bundle"], project, timeout=600)
        run(["just", "export", shadow, f"{tmp}/shadow"], project, timeout=600)
        env = harness.command_env(MODEL_BUNDLE=f"{tmp}/bundle", HOST="127.0.0.1")
        env["PATH"] = f"{venv}{os.pathsep}{env['PATH']}"  # mlflow execs the project's `uvicorn`
        ours = [str(venv / "python"), "-m", f"{package}.serving"]
        mlflow = [str(venv / "mlflow"), "models", "serve", "-m", f"{tmp}/bundle/model"]
        mlflow += ["--env-manager", "local", "--workers", "1", "-h", "127.0.0.1"]
        commands = {
            "ours": (ours, env),
            "shadow": (ours, env | {"SHADOW_MODEL": shadow, "SHADOW_BUNDLE": f"{tmp}/shadow"}),
        }
        commands["mlflow"] = (mlflow, env)
        servers = {n: stack.enter_context(serving(n, *c, work)) for n, c in commands.items()}
        probe = [str(venv / "python"), "-c", PROBE, package, f"{tmp}/bundle"]
        hello = last_json(run([*probe, "0.1"], project, timeout=600).stdout)
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        for server in servers.values():
            key = "dataframe_records" if server.path == "/invocations" else "records"
            server.body.write_text(json.dumps({key: [hello["row"]]}), encoding="utf-8")
        answers = {name: prediction(server) for name, server in servers.items()}
        if len({json.dumps(answer) for answer in answers.values()}) != 1:
            raise BenchmarkError(f"the servers disagree on the same row: {answers}")
        for server in servers.values():
            load(server, script, AT, args.warmup, 2000)
        runs: dict[str, dict[int, list[dict[str, float]]]] = {
            n: {c: [] for c in CONCURRENCY} for n in servers
        }
        floors, stages = [], []
        for index in range(args.repeats):
            for c in CONCURRENCY:
                for name in harness.rotated(list(servers), index):
                    done = load(servers[name], script, c, args.duration, args.max_requests)
                    runs[name][c].append(done)
                    harness.log(f"round {index + 1} {name:6} c={c:<2} {done['rps']:8.1f} req/s  "
                                f"p95 {done['p95_ms']:8.2f} ms")  # fmt: skip
            probed = last_json(run([*probe, str(args.floor_seconds)], project, timeout=600).stdout)
            floors.append(probed["floor"])
            stages.append(probed["stages"])
        metrics = request(servers["shadow"].port, "GET", "/metrics")[1].decode(errors="replace")
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    summary = Summary(
        "serving", versions=hello["versions"] | {"wrk": (wrk.stdout or wrk.stderr).split("[")[0]}
    )
    summary.settings = {
        "repeats": args.repeats, "duration_s": args.duration, "max_requests": args.max_requests,
        "concurrency": list(CONCURRENCY), "load_generator": "wrk -t1, keep-alive, loopback",
        "model": {"features": hello["features"], "prediction": answers["ours"]},
        "shadow": {"SHADOW_MODEL": shadow, "its metrics exported": "shadow" in metrics},
    }  # fmt: skip
    summary.details |= {"floors": floors, "stages": stages}
    summarise(summary, runs)
    summary.details["benchmark_wall_s"] = round(time.perf_counter() - started, 1)
    keys = ("rps", "p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_request")
    table = summary.details["load"]
    rows = [[n, int(c), *(row[k] for k in keys)] for n in table for c, row in table[n].items()]
    print(harness.markdown_table(("server", "c", "req/s", "p50", "p95", "p99", "cpu ms"), rows))
    harness.report(args, summary, Samples())


def parser() -> argparse.ArgumentParser:
    parser = harness.argument_parser(__doc__, benchmark="serving", repeats=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds a run, at most")
    parser.add_argument("--max-requests", type=int, default=20000, help="requests a run, at most")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed seconds a server")
    parser.add_argument(
        "--floor-seconds", type=float, default=1.0, help="a floor batch (3 a round)"
    )
    parser.add_argument("--project", type=Path, help="reuse a project that has a champion")
    parser.add_argument("--smoke", action="store_true", help="one short round; writes nothing")
    return parser


def smoke(args: argparse.Namespace) -> None:
    """``--smoke`` shrinks every bound and writes nothing: it proves the benchmark works."""
    if args.smoke:
        args.repeats, args.duration, args.max_requests, args.warmup = 1, 1.0, 300, 1.0
        args.floor_seconds, args.no_write = 0.2, True
    benchmark(args)


if __name__ == "__main__":
    harness.main(smoke, parser())
