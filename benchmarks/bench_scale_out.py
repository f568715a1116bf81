"""Scale-out: tuning on Dask against local processes; batch scoring and drift at scale.

``--part`` picks what runs; scoring and drift record each command's whole-tree peak RSS.
What is timed and how to read it: benchmarks/README.md; results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import harness
import yaml
from harness import PROBES, BenchmarkError, Summary, Timing, last_json, median, run

M, SHIFTED = 1_000_000, ["f00", "f01", "f02", "f03"]
EVIDENTLY = ["evidently==0.7.23", "pandas<3", "pyarrow"]
SPACE = {"n_estimators": [50, 100, 200], "max_depth": [4, 8, 16, None], "min_samples_leaf": [1, 4]}


def generate(kind: str, folder: Path, file_rows: int, files: int, project: harness.Project) -> Path:
    """``files`` Parquet files of ``file_rows`` rows of ``kind`` (250k-row groups)."""
    shape = [str(file_rows), str(files), str(min(file_rows, 250_000))]
    run(project.probe("drift.py", "data", kind, str(folder), *shape), project.path, timeout=7200)
    return folder


@dataclass
class ScaleOut:
    """One run's project, scratch directory and records; each part is a method."""

    args: argparse.Namespace
    project: harness.Project
    work: Path
    summary: Summary
    failed: dict[str, str] = field(default_factory=dict)  # "<who> <size>": why it stopped

    def batches(self, kind: str, sizes: list[int]) -> Iterator[tuple[str, int, Path]]:
        """A Parquet directory of ``kind`` at each size: hard links to the first files of the
        largest, generated once (1M-row files); every file deleted afterwards."""
        file_rows = min(M, sizes[0])
        data = generate(kind, self.work / kind, file_rows, sizes[-1] // file_rows, self.project)
        for size in sizes:
            batch = self.work / f"{kind}-{size}"
            batch.mkdir()
            for part in sorted(data.iterdir())[: size // file_rows]:
                os.link(part, batch / part.name)
            yield f"{size / M:g}M", size, batch
            shutil.rmtree(batch)
        shutil.rmtree(data)

    def watched_rounds(
        self, part: str, label: str, size: int, commands: dict[str, tuple[list[str], float]],
        rounds: int, expect: tuple[str, Any],
    ) -> None:  # fmt: skip
        """``rounds`` rotated rounds of each command (ours first, then the reference) given an
        output folder, watched: seconds, rows/s and peak RSS (tree, driver). Each must print
        JSON with ``expect`` (key, value). A reference that fails (never a number) is recorded
        in ``failed`` and not run again at any size; ours failing stops the benchmark."""
        out, (key, expected) = self.work / "out", expect
        for index in range(rounds):
            running = [w for w in commands if not any(k.startswith(f"{w} ") for k in self.failed)]
            for who in harness.rotated(running, index):
                command, timeout = commands[who]
                ours = who == next(iter(commands))
                result = run([*command, str(out)], self.project.path, timeout=timeout, watch=True,
                             check=ours)  # fmt: skip
                shutil.rmtree(out, ignore_errors=True)
                if result.failure:
                    self.failed[f"{who} {label}"] = result.failure
                    continue
                if (found := last_json(result.stdout).get(key)) != expected:
                    raise BenchmarkError(f"{who}, {label}: {key} {found}, not {expected}")
                name = f"{part} {label}: {who}"
                self.summary.note(f"{name}: s", result.wall, "s")
                self.summary.note(f"{name}: rows/s", size / result.wall, "rows/s")
                self.summary.note(f"{name}: peak RSS, tree (MiB)", result.peak_mib, "MiB")
                self.summary.note(f"{name}: peak RSS, driver (MiB)", result.driver_mib, "MiB")

    def tuning(self) -> None:
        """The search on local processes and on a cluster-up cluster; the per-task probe."""
        project, params_file = self.project, self.project.path / "params.yaml"
        original = params_file.read_text(encoding="utf-8")
        params = yaml.safe_load(original)
        params["model"] = {"kind": "random_forest", "params": {"n_estimators": 100}}
        params["search"] |= {"method": "grid", "folds": 3, "space": SPACE}
        probes: dict[str, list[dict[str, Any]]] = {}

        def tune(mode: str, env: dict[str, str]) -> Timing:
            compute = params["compute"] | {"backend": "local"}  # the cluster, when env names one
            params_file.write_text(yaml.safe_dump(params | {"compute": compute}), "utf-8")
            tune = ["uv", "run", "--frozen", project.package, "tune"]
            timing = run(tune, project.path, env, timeout=1800)
            tasks = [project.package, str(self.args.tasks), "local"]
            found = run(project.probe("compute_tasks.py", *tasks), project.path, env, timeout=600)
            probes.setdefault(mode, []).append(last_json(found.stdout))
            return timing

        try:
            run(["just", "prepare"], project.path, timeout=600)
            run(["just", "cluster-up", "2"], project.path, timeout=300)
            address = (project.path / "build/cluster/address").read_text(encoding="utf-8")
            cluster = harness.subprocess_env({"DASK_SCHEDULER_ADDRESS": address.strip()})
            modes = {"local": harness.subprocess_env(), "dask cluster": cluster}
            measures = {f"tune: {mode}": partial(tune, mode, env) for mode, env in modes.items()}
            self.summary.rounds(measures, self.args.repeats, warmup=1)  # bytecode, imports
        finally:
            params_file.write_text(original, encoding="utf-8")
            run(["just", "cluster-down"], project.path, timeout=300)
        self.summary.compare("tune: dask cluster / local", "tune: dask cluster", "tune: local",
                             paired=True, target="<= 1.15")  # fmt: skip
        per_task = self.summary.details["per_task"] = {}
        for mode, runs in probes.items():  # the warm-up round's probe left out
            keys = [key for key in runs[0] if key != "where"]
            figures = {key: round(median(one[key] for one in runs[1:]), 3) for key in keys}
            per_task[mode] = figures | {"backend": runs[0]["where"]}

    def scoring(self) -> None:
        """``just score`` against MLflow's pyfunc on the whole frame, at each size."""
        sizes = sorted(int(n * M) for n in self.args.scoring_sizes)
        params = yaml.safe_load((self.project.path / "params.yaml").read_text("utf-8"))
        name = params["registry"]["model_name"]
        reference = self.project.probe("mlflow_score.py", self.project.package, name)
        for label, size, batch in self.batches("own", sizes):
            commands = {"ours": (["just", "score", str(batch)], 3600.0),
                        "mlflow": ([*reference, str(batch)], 900.0)}  # fmt: skip
            rounds = self.args.repeats if size < sizes[-1] or len(sizes) == 1 else 1
            self.watched_rounds("score", label, size, commands, rounds, ("rows", size))
        notes = self.summary.values
        ours, theirs = notes.get("score 10M: ours: rows/s"), notes.get("score 10M: mlflow: rows/s")
        if ours and theirs:
            pairs, of = [a / b for a, b in zip(ours, theirs, strict=True)], "paired rounds, rows/s"
            self.summary.ratio("score 10M: ours / mlflow", median(pairs), of=of, target=">= 3",
                               rounds=pairs)  # fmt: skip
        first = notes.get("score 1M: ours: peak RSS, tree (MiB)")
        for label in ("10M", "50M"):
            if first and (peak := notes.get(f"score {label}: ours: peak RSS, tree (MiB)")):
                growth, of = median(peak) / median(first), "ours, tree peak RSS, medians"
                self.summary.ratio(f"score peak RSS {label} / 1M", growth, of=of, target="<= 1.5")

    def drift(self, repeats: int = 1, target: str | None = None) -> None:
        """The partitioned drift check at every size, ``repeats`` rounds each, against
        Evidently's report at ``--evidently-sizes`` until that fails."""
        work, rows, project = self.work, int(self.args.drift_rows * M), self.project
        tried = [int(size * M) for size in self.args.evidently_sizes]
        reference = generate("reference", work / "reference", min(M, rows), 1, project)
        reference, profile = next(reference.iterdir()), f"{work}/profile.json"
        build = project.probe("drift.py", "profile", project.package, str(reference), profile)
        self.summary.add("profile (train stage)", run(build, project.path, timeout=600))
        ours = project.probe("drift.py", "check", project.package, profile)
        venv = work / "evidently"  # Evidently in a venv of its own: it needs pandas<3
        run(["uv", "venv", "--quiet", "-p", project.bin("python"), str(venv)], work, timeout=600)
        install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
        run([*install, *EVIDENTLY], work, timeout=1800)
        theirs = [str(venv / "bin" / "python"), str(PROBES / "evidently_check.py"), str(reference)]
        for label, size, batch in self.batches("current", sorted({*tried, rows})):
            commands = {"drift check": ([*ours, str(batch)], 1800.0)}
            if size in tried:
                commands["evidently"] = ([*theirs, str(batch)], 600.0)
            self.watched_rounds("drift", label, size, commands, repeats, ("drifted", SHIFTED))
        values = self.summary.values
        done = [size for size in tried if f"drift {size / M:g}M: evidently: s" in values]
        if done:  # at Evidently's largest size, and the drift check's full size against it
            label, full, largest = f"{max(done) / M:g}M", f"{rows / M:g}M", max(done)
            seconds = median(values[f"drift {label}: evidently: s"])
            ratio = seconds / median(values[f"drift {label}: drift check: s"])
            of = f"Evidently's report / the drift check, {label} rows (its largest), medians"
            self.summary.ratio("drift: evidently / drift check", ratio, of=of, target=target)
            speed = median(values[f"drift {full}: drift check: rows/s"]) * seconds / largest
            of = f"the drift check's rows/s at {full} / Evidently's at {label}"
            name = "drift rows/s: ours at full size / evidently at its largest"
            self.summary.ratio(name, speed, of=of)


def benchmark(args: argparse.Namespace) -> None:
    settings = {k: v for k, v in vars(args).items() if k not in {"output", "no_write"}}
    summary = Summary("scale_out", settings | {"project": None}, {"evidently": EVIDENTLY[0]})
    summary.details["rendered from"] = harness.template_revision()  # the summary's: at the end
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        project = harness.trained_project(Path(tmp), args.project)
        scale_out = ScaleOut(args, project, Path(tmp), summary)
        summary.details["did not finish"] = scale_out.failed
        for part in ("tuning", "scoring", "drift"):
            if args.part in {"all", part}:
                getattr(scale_out, part)()
    summary.measure_all()
    harness.report(args, summary)


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, "scale_out", repeats=3, project=True)
    parser.add_argument("--part", choices=["all", "tuning", "scoring", "drift"], default="all")
    parser.add_argument("--tasks", type=int, default=500, help="trivial tasks for the probe")
    sizes = "million rows (the largest runs once)"
    parser.add_argument("--scoring-sizes", type=float, nargs="+", default=[1, 10, 50], help=sizes)
    parser.add_argument("--drift-rows", type=float, default=10, help="million rows")
    sizes = "million rows, in order until one fails or passes 10 minutes"
    parser.add_argument(
        "--evidently-sizes", type=float, nargs="+", default=[1, 2, 5, 10], help=sizes
    )
    harness.main(benchmark, parser)
