"""Scale-out: tuning on Dask against local processes; batch scoring and drift at scale.

One trained project with 1.0.0 in production; ``--part`` picks what runs. tuning: the
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

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import harness
import yaml
from bench_drift import (
    BUILD_PROFILE,
    DRIFT_CHECK,
    EVIDENTLY,
    EVIDENTLY_CHECK,
    SHIFTED,
    evidently_python,
    generate,
)
from harness import BenchmarkError, Samples, Summary, Timing, last_json, median, run

M = 1_000_000
SPACE = {"n_estimators": [50, 100, 200], "max_depth": [4, 8, 16, None], "min_samples_leaf": [1, 4]}
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


def record(samples: Samples, name: str, rows: int, result: Timing) -> None:
    """Wall seconds, rows a second and peak RSS (tree, driver) of one watched run."""
    samples.note(f"{name}: s", result.wall)
    samples.note(f"{name}: rows/s", rows / result.wall)
    samples.note(f"{name}: peak RSS, tree (MiB)", result.peak_mib)
    samples.note(f"{name}: peak RSS, driver (MiB)", result.driver_mib)


def link_first(source: Path, destination: Path, files: int) -> Path:
    """A directory of hard links to the first ``files`` Parquet files of ``source``."""
    destination.mkdir()
    for part in sorted(source.iterdir())[:files]:
        os.link(part, destination / part.name)
    return destination


def tuning(args: argparse.Namespace, project: Path, summary: Summary, samples: Samples) -> None:
    """The search on local processes, a cluster-up cluster and a loopback one; the probe."""
    params_file, package = project / "params.yaml", args.package
    original = params_file.read_text(encoding="utf-8")
    params = yaml.safe_load(original)
    params["model"] = {"kind": "random_forest", "params": {"n_estimators": 100}}
    params["search"] |= {"method": "grid", "folds": 3, "space": SPACE}
    probe = [args.python, "-c", TASKS.format(package=package), str(args.tasks)]
    probes: dict[str, list[dict[str, Any]]] = {}

    def tune(mode: str, backend: str, env: dict[str, str]) -> Timing:
        compute = params["compute"] | {"backend": backend}
        params_file.write_text(yaml.safe_dump(params | {"compute": compute}), "utf-8")
        timing = run(["uv", "run", "--frozen", package, "tune"], project, env, timeout=1800)
        found = run([*probe, backend], project, env, timeout=600).stdout
        probes.setdefault(mode, []).append(last_json(found))
        return timing

    try:
        run(["just", "prepare"], project, timeout=600)
        run(["just", "cluster-up", "2"], project, timeout=300)
        address = (project / "build/cluster/address").read_text(encoding="utf-8").strip()
        modes = {
            "local": ("local", harness.command_env()),
            "dask cluster": ("local", harness.command_env(DASK_SCHEDULER_ADDRESS=address)),
            "dask loopback": ("dask", harness.command_env()),
        }
        measures = {
            f"tune: {m}": lambda m=m, b=b, e=e: tune(m, b, e) for m, (b, e) in modes.items()
        }
        samples.rounds(measures, args.repeats, warmup=1)  # bytecode, the workers' imports
    finally:
        params_file.write_text(original, encoding="utf-8")
        run(["just", "cluster-down"], project, timeout=300)
    summary.compare("tune: dask cluster / local", samples, "tune: dask cluster", "tune: local",
                    paired=True, target="<= 1.15")  # fmt: skip
    summary.compare("tune: dask loopback / local", samples, "tune: dask loopback", "tune: local",
                    paired=True)  # fmt: skip
    summary.details["per_task"] = {}
    for mode, runs in probes.items():  # the warm-up round's probe left out
        keys = [key for key in runs[0] if key != "where"]
        figures = {key: round(median(one[key] for one in runs[1:]), 3) for key in keys}
        summary.details["per_task"][mode] = figures | {"backend": runs[0]["where"]}


def scoring(args: argparse.Namespace, project: Path, summary: Summary, samples: Samples) -> None:
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
                [w for w in commands if f"{w} {label}" not in failed], index
            ):
                command, timeout = commands[who]
                result = run([*command, str(batch), str(scored)], project, timeout=timeout,
                             watch=True, check=who == "ours")  # fmt: skip
                shutil.rmtree(scored, ignore_errors=True)
                if not result.failure and f'"rows": {size}' not in result.stdout:
                    raise BenchmarkError(f"{who}, {label}: printed {result.stdout[-500:]}")
                if result.failure:
                    failed[f"{who} {label}"] = result.failure
                else:
                    record(samples, f"score {label}: {who}", size, result)
        if size == 10 * M:  # `drift` exits 1 when it finds drift
            result = run(
                ["just", "drift", str(batch)], project, timeout=1800, ok=(0, 1), watch=True
            )
            record(samples, f"drift command {label} x 30 (scoring data)", size, result)
        shutil.rmtree(batch)
    shutil.rmtree(data)
    notes = samples.values
    ours, theirs = notes.get("score 10M: ours: rows/s"), notes.get("score 10M: mlflow: rows/s")
    if ours and theirs:
        pairs, of = [a / b for a, b in zip(ours, theirs, strict=True)], "paired rounds, rows/s"
        summary.ratio("score 10M: ours / mlflow", median(pairs), of=of, target=">= 3", rounds=pairs)
    first = notes.get("score 1M: ours: peak RSS, tree (MiB)")
    for label in ("10M", "50M"):
        if first and (peak := notes.get(f"score {label}: ours: peak RSS, tree (MiB)")):
            of, growth = "ours, peak RSS of the process tree, medians", median(peak) / median(first)
            summary.ratio(f"score peak RSS {label} / 1M", growth, of=of, target="<= 1.5")


def drift(args: argparse.Namespace, project: Path, summary: Summary, samples: Samples) -> None:
    """The partitioned drift check at every size; Evidently's report until it fails."""
    work, python = args.work, args.python
    rows, tried = int(args.drift_rows * M), [int(size * M) for size in args.evidently_sizes]
    sizes, failed = sorted({*tried, rows}), summary.details.setdefault("did not finish", {})
    file_rows = min(M, sizes[0])
    reference = next(generate("reference", work / "reference", min(M, rows), 1, project).iterdir())
    current = generate("current", work / "current", file_rows, sizes[-1] // file_rows, project)
    build = [python, "-c", BUILD_PROFILE.format(package=args.package), str(reference)]
    run([*build, str(work / "profile.json")], project, timeout=600)
    ours = [python, "-c", DRIFT_CHECK.format(package=args.package), f"{work}/profile.json"]
    theirs = [evidently_python(work, python), "-c", EVIDENTLY_CHECK, str(reference)]
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
            result = run(command, work, timeout=timeout, watch=True, check=who != "evidently")
            if result.failure:
                failed[f"{who} {label}"] = result.failure
                continue
            if (flagged := last_json(result.stdout)["drifted"]) != SHIFTED:
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


def benchmark(args: argparse.Namespace) -> None:
    settings = {k: v for k, v in vars(args).items() if k not in {"output", "raw", "no_write"}}
    summary, samples = Summary("scale_out", settings | {"project": None}), Samples()
    summary.versions = {"evidently": EVIDENTLY[0]}
    summary.details["rendered from"] = harness.template_revision()  # the summary's: at the end
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        args.work = Path(tmp)
        project = args.project or harness.new_project(args.work, promote=True)[0]
        args.package, args.python = harness.package_name(project), str(project / ".venv/bin/python")
        for part in (tuning, scoring, drift):
            if args.part in {"all", part.__name__}:
                part(args, project, summary, samples)
    summary.measure_all(samples)
    for name, values in sorted(samples.values.items()):
        unit = name.rsplit("(", 1)[1].rstrip(")") if "(" in name else name.rsplit(": ", 1)[1]
        summary.measure(name, values, digits=1, unit=unit)
    harness.report(args, summary, samples)


def parser() -> argparse.ArgumentParser:
    """The shared options, the part to run and its sizes."""
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
    return parser


if __name__ == "__main__":
    harness.main(benchmark, parser())
