"""The drift check on 1M rows x 20 features against Evidently's data-drift report, same run.

A trained project with 1.0.0 in production; a reference and a current table of 1M rows x
20 numeric features (normal, exponential, uniform; four shifted: +0.5 and +1 sd, -0.3 sd,
the spread doubled). Timed in fresh processes, alternating: the project's drift check
(what the ``drift`` command does less the registry: read the batch partition by partition
on the default compute backend, load the reference profile built once as the train stage
does, score every feature, write the JSON and HTML reports) and Evidently 0.7.23's
``DataDriftPreset`` report in its own venv (read both tables, run, save its HTML). Both
must flag exactly the four shifted features. Target: Evidently's median at least 30x the
drift check's. Recorded, not judged: the whole ``drift`` command (verified export, reports,
tags) on 1M rows of the project's own 30 features. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import harness
from harness import BenchmarkError, Samples, Summary, last_json, run

M, SHIFTED, TARGET = 1_000_000, ["f00", "f01", "f02", "f03"], ">= 30"
EVIDENTLY = ["evidently==0.7.23", "pandas<3", "pyarrow"]

# Parquet files of row groups: "reference"/"current" (the 20 features above), or "own"
# (the project's training rows resampled with 1% noise). Shared with bench_scale_out.py.
GENERATE = """
import sys
from pathlib import Path
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
kind, out, (file_rows, files, group) = sys.argv[1], Path(sys.argv[2]), map(int, sys.argv[3:6])
if kind == "own":
    own = pd.read_parquet("data/prepared/train.parquet").drop(columns=["target"])
def chunk(rng, rows):
    if kind == "own":
        picked = own.to_numpy()[rng.integers(0, len(own), rows)]
        return pd.DataFrame(picked * rng.normal(1.0, 0.01, picked.shape), columns=own.columns)
    draw = [rng.normal(0.0, 1.0, rows) if i < 10 else rng.exponential(1.0, rows) if i < 15
            else rng.uniform(0.0, 1.0, rows) for i in range(20)]
    if kind == "current":
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
BUILD_PROFILE = """
import sys
import pandas as pd
from {package}.data.profile import ReferenceProfile
frame = pd.read_parquet(sys.argv[1])
open(sys.argv[2], "w", encoding="utf-8").write(ReferenceProfile.from_frame(frame).to_json())
"""
# What the ``drift`` command does with a batch (a file or a directory), less the registry.
DRIFT_CHECK = """
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
scores = {{f.name: {{"psi": f.psi, "ks": f.ks_statistic}} for f in report.features}}
print(json.dumps({{"drifted": report.drifted_features(), "scores": scores}}))
"""
EVIDENTLY_CHECK = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
snapshot.save_html(sys.argv[3])
drifted, scores = [], {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if not config.get("type", "").endswith("ValueDrift"):
        continue
    method, value = config["method"], float(metric["value"])
    is_pvalue = "p_value" in method.lower() or method.startswith(("K-S", "chi"))
    if (value < config["threshold"]) if is_pvalue else (value >= config["threshold"]):
        drifted.append(config["column"])
    scores[config["column"]] = {"method": method, "value": value}
print(json.dumps({"drifted": sorted(drifted), "scores": scores}))
"""


def generate(kind: str, folder: Path, file_rows: int, files: int, project: Path) -> Path:
    """``files`` Parquet files of ``file_rows`` rows (250k-row groups) in ``folder``."""
    shape = [str(file_rows), str(files), str(min(file_rows, 250_000))]
    python = str(project / ".venv" / "bin" / "python")
    run([python, "-c", GENERATE, kind, str(folder), *shape], project, timeout=7200)
    return folder


def evidently_python(work: Path, python: str) -> str:
    """Evidently in a venv of its own (it needs ``pandas<3``); its interpreter."""
    venv = work / "evidently"
    run(["uv", "venv", "--quiet", "--python", python, str(venv)], work, timeout=600)
    install = ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run([*install, *EVIDENTLY], work, timeout=1800)
    return str(venv / "bin" / "python")


def benchmark(args: argparse.Namespace) -> None:
    samples = Samples()
    rows = int(args.rows * M)
    summary = Summary("drift", settings={"repeats": args.repeats, "rows": rows, "features": 20})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project, _ = harness.new_project(work, promote=True)
        package, python = harness.package_name(project), str(project / ".venv" / "bin" / "python")
        files = {kind: generate(kind, work / kind, rows, 1, project) / "part-00000.parquet"
                 for kind in ("reference", "current", "own")}  # fmt: skip
        evidently, profile = evidently_python(work, python), str(work / "profile.json")
        build = [python, "-c", BUILD_PROFILE.format(package=package), str(files["reference"])]
        samples.add("profile (train stage)", run([*build, profile], project, timeout=600))
        checks = {
            "drift check": [python, "-c", DRIFT_CHECK.format(package=package), profile,
                            str(files["current"]), tmp],
            "evidently": [evidently, "-c", EVIDENTLY_CHECK, str(files["reference"]),
                          str(files["current"]), f"{tmp}/evidently.html"],
        }  # fmt: skip
        last = samples.rounds(
            {name: partial(run, c, work, timeout=3600) for name, c in checks.items()},
            args.repeats,
        )
        command = [str(project / ".venv" / "bin" / package), "drift", str(files["own"])]
        for _ in range(args.repeats):  # `drift` exits 1 when it finds drift
            timing = run(command, project, timeout=3600, ok=(0, 1))
            samples.add("drift command, 1M rows x 30 own features", timing)
    outcomes = {name: last_json(timing.stdout) for name, timing in last.items()}
    drifted = {name: outcome["drifted"] for name, outcome in outcomes.items()}
    summary.versions = {"evidently": EVIDENTLY[0]}
    summary.details = {
        "shifted": SHIFTED,
        "drifted": drifted,
        "same_verdicts": all(flagged == SHIFTED for flagged in drifted.values()),
        "shifted_scores": {
            name: {feature: outcome["scores"][feature] for feature in SHIFTED}
            for name, outcome in outcomes.items()
        },
    }
    summary.measure_all(samples)
    summary.compare("evidently / drift check", samples, "evidently", "drift check", target=TARGET)
    harness.report(args, summary, samples)
    if not summary.details["same_verdicts"]:
        raise BenchmarkError(f"verdicts differ: shifted {SHIFTED}, flagged {drifted}")


if __name__ == "__main__":
    parser = harness.argument_parser(__doc__, benchmark="drift", repeats=3)
    parser.add_argument("--rows", type=float, default=1, help="million rows (the target: 1)")
    harness.main(benchmark, parser)
