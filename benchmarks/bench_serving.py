"""Serving: the generated API against ``mlflow models serve`` on one model, and with a shadow.

wrk loads the three servers in rotated rounds; a probe times the in-process floor. Needs
wrk. What is timed and how to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import harness
from harness import PROBES, BenchmarkError, Project, Summary, last_json, median, run

CONCURRENCY, AT = (8, 32), 8  # AT: the targets' concurrency
SERVERS = ("ours", "shadow", "mlflow")
LATENCY = {"p50": "p50_ms", "p95": "p95_ms", "p99": "p99_ms"}  # a ratio's figure: wrk's key
FIGURES = {"throughput": "rps", **LATENCY, "cpu_per_request": "cpu_ms_per_request"}
PAIRS = {  # (candidate, reference): ratio name prefix, figures, targets at concurrency AT
    ("ours", "mlflow"): ("", FIGURES, {"throughput": ">= 10", "p95": "<= 0.1"}),
    ("shadow", "ours"): ("shadow_", LATENCY, {"p95": "<= 1.2"}),
}
LUA = PROBES / "post.lua"  # wrk's script: the POST body, a JSON summary
LOAD_KEYS = ("rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "cpu_ms_per_request")


class Server(NamedTuple):
    """One running server: its name, port, prediction path, the body it is sent, its pid."""

    name: str
    port: int
    path: str
    body: Path
    pid: int


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def serving(
    name: str, args: list[str], env: Mapping[str, str], project: Path, work: Path
) -> Iterator[Server]:
    """A server on a free port, once its readiness probe answers; its session ended after."""
    with socket.socket() as sock:  # a port free now, for the server to bind
        sock.bind(("127.0.0.1", 0))
        port, path, ready, log = sock.getsockname()[1], "/predict", "/ready", work / f"{name}.log"
    if "mlflow" in args[0]:
        args, path, ready = [*args, "-p", str(port)], "/invocations", "/ping"
    env = {**env, "PORT": str(port)}
    with (
        log.open("wb") as out,
        harness.session(args, project, env, stdout=out, stderr=out, grace=30) as process,
    ):
        deadline = time.perf_counter() + 300
        while process.poll() is None and time.perf_counter() < deadline:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request(port, "GET", ready)[0] == 200:
                    yield Server(name, port, path, work / f"{name}.json", process.pid)
                    return
            time.sleep(0.5)
        raise BenchmarkError(f"{name} did not come up: {log.read_text(errors='replace')[-3000:]}")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a server's live process tree."""
    return sum(cpu for _, cpu, _ in harness.process_tree(pid))


def load(server: Server, c: int, seconds: int) -> dict[str, float]:
    """One wrk run: throughput, latency percentiles (ms) and the server's CPU per request."""
    env = harness.subprocess_env({"BENCH_BODY": str(server.body)})
    wrk = ["wrk", "-t1", f"-c{c}", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA)]
    url, cpu = f"http://127.0.0.1:{server.port}{server.path}", tree_cpu(server.pid)
    out = run([*wrk, url], server.body.parent, env, timeout=seconds + 120).stdout
    cpu = tree_cpu(server.pid) - cpu
    found = re.search(r"^BENCH_JSON (.*)$", out, re.MULTILINE)
    raw = json.loads(found.group(1)) if found else {"requests": 0}
    if not raw["requests"]:
        raise BenchmarkError(f"{server.name}: no request completed:\n{out[-2000:]}")
    return raw | {"cpu_ms_per_request": cpu / raw["requests"] * 1000}


def prediction(server: Server) -> Any:
    """The server's answer to the benchmark's row (ours: the value; MLflow's: its field)."""
    status, body = request(server.port, "POST", server.path, server.body.read_bytes())
    if status != 200:
        raise BenchmarkError(f"{server.name} answered {status}: {body[:500]!r}")
    answer = json.loads(body)["predictions"][0]
    return answer["prediction"] if isinstance(answer, dict) else answer


def shadow_version(project: Project, work: Path) -> str:
    """Register a second version and export it and the champion; the second's version."""
    harness.log("a second registered version for the shadow: just pipeline --force")
    run(["just", "pipeline", "--force"], project.path, timeout=1800)
    listed = run([project.bin(project.package), "models", "list"], project.path, timeout=300)
    found: set[str] = set(re.findall(r"\b\d+\.\d+\.\d+\b", listed.stdout)) - {"1.0.0"}
    shadow = max(found, key=lambda v: tuple(map(int, v.split("."))))
    run(["just", "export", "@champion", str(work / "bundle")], project.path, timeout=600)
    run(["just", "export", shadow, str(work / "shadow")], project.path, timeout=600)
    return shadow


def summarise(summary: Summary, done: dict[str, list[dict[str, float]]]) -> None:
    """Medians per server, paired per-round ratios against their targets, the floor share."""
    table, floors = summary.details.setdefault("load", {}), done["floor"]
    for name in SERVERS:
        for c in CONCURRENCY:
            runs = done[f"{name} c{c}"]
            summary.measure(f"{name}.c{c}.rps", [r["rps"] for r in runs], unit="req/s", digits=1)
            summary.measure(f"{name}.c{c}.p95", [r["p95_ms"] for r in runs], unit="ms", digits=2)
            row = {k: round(median(r[k] for r in runs), 3) for k in LOAD_KEYS}
            table.setdefault(name, {})[str(c)] = row | {"errors": sum(r["errors"] for r in runs)}
    for (candidate, reference), (prefix, figures, targets) in PAIRS.items():
        for c in CONCURRENCY:
            pairs = list(zip(done[f"{candidate} c{c}"], done[f"{reference} c{c}"], strict=True))
            for figure, key in figures.items():
                summary.ratio(
                    f"{prefix}{figure}_c{c}", median(a[key] / b[key] for a, b in pairs),
                    of=f"{candidate} / {reference} {key}, concurrency {c}, paired rounds; median",
                    digits=4, target=targets.get(figure) if c == AT else None,
                )  # fmt: skip
    ours = list(zip(done[f"ours c{AT}"], floors, strict=True))
    share = median(o["rps"] * f["wall_s"] for o, f in ours)
    of = f"ours req/s x the floor's seconds a call, concurrency {AT}, paired rounds; median"
    summary.ratio(f"floor_share_c{AT}", share, of=of, digits=4, target=">= 0.3")
    wall = median(f["wall_s"] for f in floors)
    summary.details["floor"] = {"predict_wall_us": round(wall * 1e6, 1), "rate_per_s": 1 / wall}


def benchmark(args: argparse.Namespace) -> None:
    summary = Summary("serving")
    if args.smoke:  # every bound shrunk, nothing written: it proves the benchmark works
        args.repeats, args.duration, args.no_write = 1, 1, True
    with (
        tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        project = harness.trained_project(work, args.project)
        shadow = shadow_version(project, work)
        env = harness.subprocess_env({"MODEL_BUNDLE": f"{tmp}/bundle", "HOST": "127.0.0.1"})
        env["PATH"] = f"{project.bin('')}:{env['PATH']}"  # mlflow execs the project's `uvicorn`
        ours = [project.bin("python"), "-m", f"{project.package}.serving"]
        mlflow = [project.bin("mlflow"), "models", "serve", "-m", f"{tmp}/bundle/model"]
        mlflow += ["--env-manager", "local", "--workers", "1", "-h", "127.0.0.1"]
        commands = {
            "ours": (ours, env),
            "shadow": (ours, env | {"SHADOW_MODEL": shadow, "SHADOW_BUNDLE": f"{tmp}/shadow"}),
            "mlflow": (mlflow, env),
        }
        servers = {
            name: stack.enter_context(serving(name, *command, project.path, work))
            for name, command in commands.items()
        }
        probe = project.probe("serving_floor.py", project.package, f"{tmp}/bundle")
        hello = last_json(run([*probe, "0.1"], project.path, timeout=600).stdout)
        for server in servers.values():
            key = "dataframe_records" if server.path == "/invocations" else "records"
            server.body.write_text(json.dumps({key: [hello["row"]]}), encoding="utf-8")
        answers = {name: prediction(server) for name, server in servers.items()}
        if len({json.dumps(answer) for answer in answers.values()}) != 1:
            raise BenchmarkError(f"the servers disagree on the same row: {answers}")
        for server in servers.values():
            load(server, AT, max(1, args.duration * 3 // 10))  # untimed: the first requests
        floor = [*probe, str(0.1 * args.duration)]  # 3 batches a round
        measures: dict[str, Callable[[], dict[str, float]]] = {
            f"{name} c{c}": partial(load, server, c, args.duration)
            for c in CONCURRENCY
            for name, server in servers.items()
        }
        measures["floor"] = lambda: last_json(run(floor, project.path, timeout=600).stdout)["floor"]
        done = summary.rounds(measures, args.repeats)  # the floor, timed in each round
        metrics = request(servers["shadow"].port, "GET", "/metrics")[1].decode(errors="replace")
        wrk = run(["wrk", "-v"], work, timeout=60, check=False).stdout.split("[")[0].strip()
    summary.versions = hello["versions"] | {"wrk": wrk}
    summary.settings = {
        "repeats": args.repeats, "duration_s": args.duration,
        "concurrency": list(CONCURRENCY), "load_generator": "wrk -t1, keep-alive, loopback",
        "model": {"features": hello["features"], "prediction": answers["ours"]},
        "shadow": {"SHADOW_MODEL": shadow, "its metrics exported": "shadow" in metrics},
    }  # fmt: skip
    summarise(summary, done)
    harness.report(args, summary)


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, "serving", repeats=3, project=True)
    text = "whole seconds a run (wrk's unit); 0.3 of it a server's warm-up, 0.1 a floor batch"
    parser.add_argument("--duration", type=int, default=10, help=text)
    parser.add_argument("--smoke", action="store_true", help="one short round; writes nothing")
    harness.main(benchmark, parser)
