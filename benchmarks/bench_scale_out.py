"""Scale-out: tuning on Dask against local processes; batch scoring and drift at scale.

One default project (trained, 1.0.0 promoted); ``--part`` picks what runs. tuning: the
``tune`` command on a 24-candidate x 3-fold random-forest grid on 2 local processes, on a
``just cluster-up 2`` cluster and on a loopback cluster of its own, interleaved, and
``--tasks`` trivial tasks through ``ComputeBackend.map`` on each. scoring: ``just score``
on Parquet directories of the project's 30 features against MLflow's pyfunc predicting the
whole ``pd.read_parquet`` frame. drift: the partitioned drift check (the ``drift`` command
less the registry) on 10M rows x 20 features against Evidently's report at growing sizes.
Peak RSS: the largest sum over a command's process tree, read from ``/proc`` every 50 ms.
Targets and results: docs/benchmarks.md; how to read it: benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import harness
import yaml
from bench_drift import BUILD_PROFILE, EVIDENTLY, EVIDENTLY_CHECK, SHIFTED
from harness import BenchmarkError, Samples, Summary, command_env, median, run

M, MIB, GROUP_ROWS = 1_000_000, 1 << 20, 250_000
GUARD = 3 << 30  # a run is stopped when the machine has less memory available than this
SPACE = {"n_estimators": [50, 100, 200], "max_depth": [4, 8, 16, None], "min_samples_leaf": [1, 4]}

GENERATE = """
import sys
from pathlib import Path
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
kind, out, (file_rows, files, group) = sys.argv[1], Path(sys.argv[2]), map(int, sys.argv[3:6])
if kind == "own":
    own = pd.read_parquet("data/prepared/train.parquet").drop(columns=["target"])
def chunk(rng, rows):
    if kind == "own":  # the project's features: training rows resampled, 1% noise
        picked = own.to_numpy()[rng.integers(0, len(own), rows)]
        return pd.DataFrame(picked * rng.normal(1.0, 0.01, picked.shape), columns=own.columns)
    draw = [rng.normal(0.0, 1.0, rows) if i < 10 else rng.exponential(1.0, rows) if i < 15
            else rng.uniform(0.0, 1.0, rows) for i in range(20)]
    if kind == "current":  # bench_drift.py's four shifted features
        draw[0] += 0.5; draw[1] += 1.0; draw[2] *= 2.0; draw[3] -= 0.3
    return pd.DataFrame({f"f{i:02d}": values for i, values in enumerate(draw)})
out.mkdir(parents=True)
for index in range(files):
    rng, writer = np.random.default_rng([len(kind), index]), None  # a stream per kind and file
    for start in range(0, file_rows, group):
        table = pa.Table.from_pandas(chunk(rng, min(group, file_rows - start)))
        writer = writer or pq.ParquetWriter(out / f"part-{index:05d}.parquet", table.schema)
        writer.write_table(table, row_group_size=group)
    writer.close()
"""

TASKS = """
import json, math, sys, time
from {package}.compute import open_backend
from {package}.compute.backend import single_threaded
from {package}.config import ComputeConfig
tasks, start = int(sys.argv[1]), time.perf_counter()
for i in range(tasks):
    single_threaded(math.sqrt, i)  # the floor: one task's own wrapper, in this process
floor = time.perf_counter()
with open_backend(ComputeConfig(backend=sys.argv[2], workers=2)) as backend:
    list(backend.map(math.sqrt, range(2 * backend.workers)))
    opened = time.perf_counter()
    list(backend.map(math.sqrt, range(tasks)))
    done = time.perf_counter()
print(json.dumps({{"floor_ms": (floor - start) * 1e3 / tasks, "open_s": opened - floor,
                  "task_ms": (done - opened) * 1e3 / tasks, "where": backend.describe()}}))
"""

REFERENCE = """
import json, sys
from pathlib import Path
import mlflow, pandas as pd
from {package}.tracking import quiet, tracking_uri
quiet()
mlflow.set_tracking_uri(tracking_uri(Path.cwd()))
model = mlflow.pyfunc.load_model("models:/{name}@champion")
predicted = pd.DataFrame(model.predict(pd.read_parquet(sys.argv[1]))).rename(columns=str)
Path(sys.argv[2]).mkdir()
predicted.to_parquet(Path(sys.argv[2]) / "part-00000.parquet")
print(json.dumps({{"rows": len(predicted)}}))
"""

# What `run_drift_check` does with a batch, less the registry (as bench_drift.py's check).
PARTITIONED_DRIFT = """
import json, sys
from pathlib import Path
from {package}.config import ComputeConfig, DriftConfig
from {package}.data.partitions import content_digest
from {package}.data.profile import ReferenceProfile
from {package}.monitoring import report_html
from {package}.monitoring.drift import detect_batch_drift
profile_file, batch, out = (Path(arg) for arg in sys.argv[1:])
profile = ReferenceProfile.from_json(profile_file.read_text(encoding="utf-8"))
report = detect_batch_drift(profile, batch, DriftConfig(), ComputeConfig())
header = report_html.ReportHeader("bench", "1.0.0", batch.name, content_digest(batch), "-")
(out / "ours.json").write_text(report.to_json(), encoding="utf-8")
(out / "ours.html").write_text(report_html.render(report, header), encoding="utf-8")
print(json.dumps({{"drifted": report.drifted_features()}}))
"""


class Watched(NamedTuple):
    """A finished or stopped command: wall seconds, peak RSS (MiB), stdout, why it failed."""

    wall: float
    tree_mib: float
    driver_mib: float
    stdout: str
    failure: str | None


def _tree(root: int) -> list[tuple[int, bool]]:
    """The RSS of ``root`` and each descendant, parents first, with "is a Python process"."""
    found: list[tuple[int, bool]] = []
    queue = [root]
    while queue:
        pid = queue.pop(0)
        try:
            python = Path(f"/proc/{pid}/exe").readlink().name.startswith("python")
            for task in Path(f"/proc/{pid}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGESIZE")
        except (OSError, IndexError):  # it has just exited
            continue
        found.append((rss, python))
    return found


def watched(args: Sequence[str], cwd: Path, timeout: float, ok: int = 0) -> Watched:
    """Run ``args``, sampling its tree's RSS; stop it past ``timeout`` or short of memory.

    The peak of the driver (the tree's first Python process) is kept apart. A failure is
    returned, not raised: a reference that runs out of time or memory is a result.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start, tree, driver, failure = time.perf_counter(), 0, 0, None
        process = subprocess.Popen(
            args, cwd=cwd, env=command_env(), stdout=out, stderr=err, start_new_session=True
        )
        while process.poll() is None:
            sizes = _tree(process.pid)
            tree = max(tree, sum(rss for rss, _ in sizes))
            driver = max(driver, next((rss for rss, python in sizes if python), 0))
            meminfo = Path("/proc/meminfo").read_text(encoding="utf-8").split("MemAvailable:")
            if time.perf_counter() - start > timeout:
                failure = f"stopped after {timeout:.0f} s"
            elif int(meminfo[1].split()[0]) * 1024 < GUARD:
                failure = f"stopped at {tree / MIB:,.0f} MiB: the machine's memory ran out"
            if failure:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
                process.wait()
            time.sleep(0.05)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if failure is None and process.returncode not in {0, ok}:
            failure = f"exit code {process.returncode}: {err.read()[-1500:]}"
        return Watched(wall, tree / MIB, driver / MIB, out.read(), failure)


def record(samples: Samples, name: str, rows: int, result: Watched) -> None:
    samples.note(f"{name}: s", result.wall)
    samples.note(f"{name}: rows/s", rows / result.wall)
    samples.note(f"{name}: peak RSS, tree (MiB)", result.tree_mib)
    samples.note(f"{name}: peak RSS, driver (MiB)", result.driver_mib)


def generate(kind: str, folder: Path, file_rows: int, files: int, project: Path) -> Path:
    """``files`` Parquet files of ``file_rows`` rows each, generated a row group at a time."""
    python, shape = project / ".venv" / "bin" / "python", (file_rows, files, GROUP_ROWS)
    args = [str(python), "-c", GENERATE, kind, str(folder), *map(str, shape)]
    run(args, project, command_env(), timeout=7200)
    return folder


def link_first(source: Path, destination: Path, files: int) -> Path:
    """A directory of hard links to the first ``files`` Parquet files of ``source``."""
    destination.mkdir()
    for part in sorted(source.iterdir())[:files]:
        os.link(part, destination / part.name)
    return destination


def tuning(args: Namespace, project: Path, summary: Summary, samples: Samples) -> None:
    """The search on local processes, a cluster-up cluster and a loopback one; the probe."""
    env, params_file, package = command_env(), project / "params.yaml", args.package
    original = params_file.read_text(encoding="utf-8")
    params = yaml.safe_load(original)
    params["model"] = {"kind": "random_forest", "params": {"n_estimators": 100}}
    params["search"] |= {"method": "grid", "folds": 3, "space": SPACE}
    probe = [str(project / ".venv" / "bin" / "python"), "-c", TASKS.format(package=package)]
    probes: dict[str, list[dict[str, Any]]] = {}
    try:
        run(["just", "prepare"], project, env, timeout=600)
        run(["just", "cluster-up", "2"], project, env, timeout=300)
        address = (project / "build" / "cluster" / "address").read_text(encoding="utf-8").strip()
        modes = {
            "local": ("local", env),
            "dask cluster": ("local", env | {"DASK_SCHEDULER_ADDRESS": address}),
            "dask loopback": ("dask", env),
        }
        for index in range(args.repeats + 1):  # round 0 warms up: bytecode, the workers' imports
            for mode in harness.rotated(list(modes), index):
                backend, mode_env = modes[mode]
                compute = params["compute"] | {"backend": backend}
                params_file.write_text(yaml.safe_dump(params | {"compute": compute}), "utf-8")
                tune = ["uv", "run", "--frozen", package, "tune"]
                timing = run(tune, project, mode_env, timeout=1800)
                if index:
                    samples.add(f"tune: {mode}", timing)
                    found = run([*probe, str(args.tasks), backend], project, mode_env, timeout=600)
                    probes.setdefault(mode, []).append(json.loads(found.stdout.splitlines()[-1]))
    finally:
        params_file.write_text(original, encoding="utf-8")
        run(["just", "cluster-down"], project, env, timeout=300)
    for mode, at_most in (("dask cluster", 1.15), ("dask loopback", None)):
        pairs = [
            a / b
            for a, b in zip(samples.wall[f"tune: {mode}"], samples.wall["tune: local"], strict=True)
        ]
        of = "paired rounds, wall time of the tune command"
        summary.ratio(f"tune: {mode} / local", median(pairs), of=of, at_most=at_most, rounds=pairs)
    summary.details["per_task"] = {
        mode: {key: round(median(one[key] for one in runs), 3) for key in runs[0] if key != "where"}
        | {"backend": runs[0]["where"], "tasks": args.tasks}
        for mode, runs in probes.items()
    }


def scoring(args: Namespace, project: Path, summary: Summary, samples: Samples) -> None:
    """``just score`` against MLflow's pyfunc on the whole frame, at each size; ``just drift``."""
    sizes = sorted(int(size * M) for size in args.scoring_sizes)
    file_rows, failed = min(M, sizes[0]), summary.details.setdefault("did not finish", {})
    data = generate("own", args.work / "own", file_rows, sizes[-1] // file_rows, project)
    name = yaml.safe_load((project / "params.yaml").read_text("utf-8"))["registry"]["model_name"]
    reference = [args.python, "-c", REFERENCE.format(package=args.package, name=name)]
    for size in sizes:
        batch = link_first(data, args.work / f"own-{size}", size // file_rows)
        label, scored = f"{size / M:g}M", args.work / "scored"
        commands = {"ours": (["just", "score"], 3600), "mlflow": (reference, 900)}
        for index in range(args.repeats if size < sizes[-1] or len(sizes) == 1 else 1):
            for who in harness.rotated(
                [who for who in commands if f"{who} {label}" not in failed], index
            ):
                command, timeout = commands[who]
                result = watched([*command, str(batch), str(scored)], project, timeout)
                shutil.rmtree(scored, ignore_errors=True)
                if not result.failure and f'"rows": {size}' not in result.stdout:
                    result = result._replace(failure=f"printed {result.stdout[-500:]}")
                if who == "ours" and result.failure:
                    raise BenchmarkError(f"just score, {label}: {result.failure}")
                if result.failure:
                    failed[f"{who} {label}"] = result.failure
                else:
                    record(samples, f"score {label}: {who}", size, result)
        if size == 10 * M:  # `drift` exits 1 when it finds drift
            result = watched(["just", "drift", str(batch)], project, 1800, ok=1)
            if result.failure:
                raise BenchmarkError(f"just drift, {label}: {result.failure}")
            record(samples, f"drift command {label} x 30 (scoring data)", size, result)
        shutil.rmtree(batch)
    shutil.rmtree(data)
    notes = samples.values
    ours, theirs = notes.get("score 10M: ours: rows/s"), notes.get("score 10M: mlflow: rows/s")
    if ours and theirs:
        pairs, of = [a / b for a, b in zip(ours, theirs, strict=True)], "paired rounds, rows/s"
        summary.ratio("score 10M: ours / mlflow", median(pairs), of=of, at_least=3, rounds=pairs)
    first = notes.get("score 1M: ours: peak RSS, tree (MiB)")
    for label in ("10M", "50M"):
        if first and (peak := notes.get(f"score {label}: ours: peak RSS, tree (MiB)")):
            of, growth = "ours, peak RSS of the process tree, medians", median(peak) / median(first)
            summary.ratio(f"score peak RSS {label} / 1M", growth, of=of, at_most=1.5)


def drift(args: Namespace, project: Path, summary: Summary, samples: Samples) -> None:
    """The partitioned drift check at every size; Evidently's report until it fails."""
    env, work, python = command_env(), args.work, args.python
    rows, tried = int(args.drift_rows * M), [int(size * M) for size in args.evidently_sizes]
    sizes, failed = sorted({*tried, rows}), summary.details.setdefault("did not finish", {})
    file_rows = min(M, sizes[0])
    reference = next(generate("reference", work / "reference", min(M, rows), 1, project).iterdir())
    current = generate("current", work / "current", file_rows, sizes[-1] // file_rows, project)
    build = [python, "-c", BUILD_PROFILE.format(package=args.package)]
    run([*build, str(reference), str(work / "profile.json")], project, env, timeout=600)
    venv = work / "evidently"
    run(["uv", "venv", "--quiet", "--python", python, str(venv)], work, env, timeout=600)
    install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run([*install, *EVIDENTLY], work, env, timeout=1800)
    ours = [
        python,
        "-c",
        PARTITIONED_DRIFT.format(package=args.package),
        str(work / "profile.json"),
    ]
    theirs = [str(venv / "bin" / "python"), "-c", EVIDENTLY_CHECK, str(reference)]
    largest = 0
    for size in sizes:
        batch, label = (
            link_first(current, work / f"current-{size}", size // file_rows),
            f"{size / M:g}M",
        )
        commands = {"drift check": ([*ours, str(batch), str(work)], 1800)}
        if size in tried and not any(key.startswith("evidently") for key in failed):
            commands["evidently"] = ([*theirs, str(batch), str(work / "evidently.html")], 600)
        for who, (command, timeout) in commands.items():
            result = watched(command, work, timeout)
            if result.failure and who == "evidently":
                failed[f"{who} {label}"] = result.failure
                continue
            flagged = result.failure or json.loads(result.stdout.splitlines()[-1])["drifted"]
            if flagged != SHIFTED:
                raise BenchmarkError(f"{who}, {label}: flagged {flagged}, not {SHIFTED}")
            record(samples, f"drift {label}: {who}", size, result)
            largest = size if who == "evidently" else largest
    if largest:
        label, full = f"{largest / M:g}M", f"{rows / M:g}M"
        seconds = samples.values[f"drift {label}: evidently: s"][0]
        of = f"Evidently's report / the drift check, both at {label} rows (its largest), one run"
        ours_s = samples.values[f"drift {label}: drift check: s"][0]
        summary.ratio("drift: evidently / drift check", seconds / ours_s, of=of)
        speed = median(samples.values[f"drift {full}: drift check: rows/s"]) * seconds / largest
        of = f"the drift check's rows/s at {full} / Evidently's at {label}"
        summary.ratio("drift rows/s: ours at full size / evidently at its largest", speed, of=of)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the project, run the parts asked for; print and write the summary."""
    parser = harness.argument_parser(__doc__, benchmark="scale_out", repeats=3)
    parser.add_argument("--part", choices=["all", "tuning", "scoring", "drift"], default="all")
    parser.add_argument("--project", type=Path, help="reuse a project that has a champion")
    parser.add_argument("--tasks", type=int, default=500, help="trivial tasks for the probe")
    sizes = "million rows (the largest runs once)"
    parser.add_argument("--scoring-sizes", type=float, nargs="+", default=[1, 10, 50], help=sizes)
    parser.add_argument("--drift-rows", type=float, default=10, help="million rows")
    sizes = "million rows, in order until one fails or passes 10 minutes"
    parser.add_argument(
        "--evidently-sizes", type=float, nargs="+", default=[1, 2, 5, 10], help=sizes
    )
    args = parser.parse_args(argv)
    settings = {k: v for k, v in vars(args).items() if k not in {"output", "raw", "no_write"}}
    summary, samples = Summary("scale_out", settings | {"project": None}), Samples()
    summary.versions = {"evidently": EVIDENTLY[0]}
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        args.work, env = Path(tmp), command_env()
        summary.details["rendered from"] = (
            harness.template_revision()
        )  # the summary's is at the end
        project = args.project or harness.promoted_project(args.work, env)
        args.package, args.python = harness.package_name(project), str(project / ".venv/bin/python")
        for part in (tuning, scoring, drift):
            if args.part in {"all", part.__name__}:
                part(args, project, summary, samples)
    summary.measure_all(samples)
    for name, values in sorted(samples.values.items()):
        unit = name.rsplit("(", 1)[1].rstrip(")") if "(" in name else name.rsplit(": ", 1)[1]
        summary.measure(name, values, digits=1, unit=unit)
    harness.report(args, summary, samples)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
