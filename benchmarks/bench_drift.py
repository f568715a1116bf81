"""The drift check on 1M rows x 20 features against Evidently's data-drift report, same run.

Generates a default project (installed, trained, 1.0.0 promoted), writes a
reference and a current table of 1,000,000 rows x 20 numeric features (normal,
exponential and uniform; four of them shifted: +0.5 and +1 sd, -0.3 sd, the
spread doubled), and times, in fresh processes, alternating:

- the project's drift check: read the batch, load the reference profile
  (built once, as the train stage does; timed on its own), score every
  feature, write the JSON and HTML reports;
- Evidently 0.7.23's ``DataDriftPreset`` report, in its own venv (created with
  uv; Evidently needs ``pandas<3``): read both tables, run, save its HTML.

Both must flag exactly the four shifted features. Target: Evidently's median
time >= 30x the drift check's. Also recorded, not judged: the whole
``drift`` command (verified export from the registry, reports, tags) on 1M
rows of the project's own 30 features.

Run it with ``uv run --frozen python benchmarks/bench_drift.py [--repeats 3]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness import (
    BenchmarkError,
    Samples,
    Summary,
    Timing,
    argument_parser,
    children_cpu,
    command_env,
    package_name,
    promoted_project,
    report,
    rotated,
    run,
)

ROWS = 1_000_000
SHIFTED = ["f00", "f01", "f02", "f03"]
EVIDENTLY = ["evidently==0.7.23", "pandas<3", "pyarrow"]
TARGET = 30.0
TIMEOUT = 3600

MAKE_DATA = """
import sys
from pathlib import Path
import numpy as np
import pandas as pd
rows, out = int(sys.argv[1]), Path(sys.argv[2])
def table(seed, shifted):
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(20):
        if i < 10:
            columns[f"f{i:02d}"] = rng.normal(0.0, 1.0, rows)
        elif i < 15:
            columns[f"f{i:02d}"] = rng.exponential(1.0, rows)
        else:
            columns[f"f{i:02d}"] = rng.uniform(0.0, 1.0, rows)
    if shifted:
        columns["f00"] += 0.5
        columns["f01"] += 1.0
        columns["f02"] *= 2.0
        columns["f03"] -= 0.3
    return pd.DataFrame(columns)
table(1, False).to_parquet(out / "reference.parquet")
table(2, True).to_parquet(out / "current.parquet")
own = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"])
rng = np.random.default_rng(3)
big = own.sample(rows, replace=True, random_state=4).reset_index(drop=True)
big = big * rng.normal(1.0, 0.01, big.shape)
big.to_parquet(out / "own.parquet")
"""

BUILD_PROFILE = """
import sys
import pandas as pd
from {package}.data.profile import ReferenceProfile
frame = pd.read_parquet(sys.argv[1])
open(sys.argv[2], "w", encoding="utf-8").write(ReferenceProfile.from_frame(frame).to_json())
"""

# What `run_drift_check` does, less the registry: the figures the comparison is about.
OUR_CHECK = """
import json, sys
from pathlib import Path
from {package}.config import DriftConfig
from {package}.data.batch import read_batch
from {package}.data.profile import ReferenceProfile
from {package}.lineage import sha256_file
from {package}.monitoring import report_html
from {package}.monitoring.drift import detect_drift
profile_file, batch_file, out = (Path(arg) for arg in sys.argv[1:])
profile = ReferenceProfile.from_json(profile_file.read_text(encoding="utf-8"))
report = detect_drift(profile, read_batch(batch_file), DriftConfig())
header = report_html.ReportHeader("bench", "1.0.0", batch_file.name, sha256_file(batch_file), "-")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Build the data, time both checks alternately, compare verdicts; print and write."""
    parser = argument_parser(
        __doc__, benchmark="drift", repeats=3, repeats_help="timed runs of each check"
    )
    args = parser.parse_args(argv)
    env = command_env()
    samples = Samples()
    summary = Summary("drift", settings={"repeats": args.repeats, "rows": ROWS, "features": 20})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = promoted_project(work, env)
        package = package_name(project)
        python = str(project / ".venv" / "bin" / "python")
        run([python, "-c", MAKE_DATA, str(ROWS), str(work)], project, env, timeout=TIMEOUT)
        evidently = work / "evidently"
        run(["uv", "venv", "--quiet", "--python", python, str(evidently)], work, env, timeout=600)
        install = ["uv", "pip", "install", "--quiet", "--python", str(evidently / "bin" / "python")]
        run([*install, *EVIDENTLY], work, env, timeout=1800)
        profile = work / "profile.json"
        build = [python, "-c", BUILD_PROFILE.format(package=package)]
        samples.add(
            "profile (train stage)",
            run([*build, str(work / "reference.parquet"), str(profile)], project, env, timeout=600),
        )
        checks = {
            "drift check": [
                python,
                "-c",
                OUR_CHECK.format(package=package),
                str(profile),
                str(work / "current.parquet"),
                str(work),
            ],
            "evidently": [
                str(evidently / "bin" / "python"),
                "-c",
                EVIDENTLY_CHECK,
                str(work / "reference.parquet"),
                str(work / "current.parquet"),
                str(work / "evidently.html"),
            ],
        }
        outcomes: dict[str, dict[str, object]] = {}
        for round_number in range(args.repeats):
            for name in rotated(list(checks), round_number):
                timing = run(checks[name], work, env, timeout=TIMEOUT)
                samples.add(name, timing)
                outcomes[name] = json.loads(timing.stdout.strip().splitlines()[-1])
        command = [str(project / ".venv" / "bin" / package), "drift", str(work / "own.parquet")]
        for _ in range(args.repeats):
            samples.add("drift command, 1M rows x 30 own features", _command(command, project))
    ours, theirs = outcomes["drift check"]["drifted"], outcomes["evidently"]["drifted"]
    summary.versions = {"evidently": EVIDENTLY[0]}
    summary.details = {
        "shifted": SHIFTED,
        "drifted": {"drift check": ours, "evidently": theirs},
        "same_verdicts": ours == theirs == SHIFTED,
        "shifted_scores": {
            name: {feature: outcome["scores"][feature] for feature in SHIFTED}  # type: ignore[index]
            for name, outcome in outcomes.items()
        },
    }
    summary.measure_all(samples)
    best = {name: min(samples.wall[name]) for name in checks}
    middle = {name: summary.measures[name]["median"] for name in checks}
    summary.ratio(
        "evidently / drift check",
        middle["evidently"] / middle["drift check"],
        of="median Evidently report / median drift check",
        at_least=TARGET,
        min=best["evidently"] / best["drift check"],
    )
    report(args, summary, samples)
    if not summary.details["same_verdicts"]:
        raise BenchmarkError(f"verdicts differ: shifted {SHIFTED}, ours {ours}, Evidently {theirs}")
    return 0


def _command(command: list[str], project: Path) -> Timing:
    """The ``drift`` command exits 1 on drift, which ``run`` would call a failure."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(
        command, cwd=project, env=command_env(), capture_output=True, text=True, check=False
    )
    if result.returncode not in {0, 1}:
        raise BenchmarkError(f"`{' '.join(command)}` failed: {result.stderr[-2000:]}")
    return Timing(time.perf_counter() - start, children_cpu() - cpu, result.stdout)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
