"""``just pipeline --force`` against the floor of importing its libraries and fitting.

Targets: a forced, warm ``just pipeline`` (bundled data) at most 2.5x the floor, one
process importing sklearn, pandas, pandera, mlflow and pyarrow and fitting the configured
model as ``params.yaml`` says; a run after only a hyper-parameter changed at most 2x. The
project is rendered from the template's last commit (``--vcs-ref HEAD``: the working tree
too), committed, installed and warmed up (one pipeline, one floor). Per repeat the floor
runs right before and after the pipeline; a repeat's ratio is the pipeline over the mean of
the two floors, and the verdict is the median over repeats. Also timed each repeat: DVC's
no-op and plain ``just repro --force`` (one process per stage). Results, one per scenario:
docs/pipeline-performance.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import harness
import yaml
from harness import BenchmarkError, Samples, Summary, Timing, last_json, median, run

TARGET, PARAMS_TARGET = 2.5, "<= 2"
ESTIMATORS = {  # model.kind: (module, class, scaled), mirroring src/<package>/models/
    "logistic_regression": ("sklearn.linear_model", "LogisticRegression", True),
    "ridge": ("sklearn.linear_model", "Ridge", True),
    "random_forest": ("sklearn.ensemble", "RandomForest{task}", False),
    "gradient_boosting": ("sklearn.ensemble", "HistGradientBoosting{task}", False),
}
TIMERS = (
    "import json, sys, time\nt0 = time.perf_counter()\n{setup}\nt1 = time.perf_counter()\n{work}\n"
)
TIMERS += 'print(json.dumps({{"{first}": t1 - t0, "{second}": time.perf_counter() - t1}}))\n'
FLOOR = """import mlflow, pandas, pandera.pandas, pyarrow, sklearn
from sklearn.datasets import load_{dataset}
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from {module} import {estimator}"""
FIT = """frame = load_{dataset}(as_frame=True).frame
x, _, y, _ = train_test_split(frame.drop(columns=["target"]), frame["target"],
    test_size={test_size!r}, random_state={seed!r}, stratify={stratify})
model = {estimator}(**{params!r})
(make_pipeline(StandardScaler(), model) if {scaled!r} else model).fit(x, y)"""


def floor_code(project: Path) -> str:
    """The floor probe for the project's configured dataset, split and model."""
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    task, kind = params["task"], params["model"]["kind"]
    suffix = "Classifier" if task == "classification" else "Regressor"
    module, estimator, scaled = ESTIMATORS[kind]
    model_params = dict(params["model"].get("params") or {})
    if "seed" in model_params:
        model_params["random_state"] = model_params.pop("seed")
    fields = {
        "dataset": params["data"]["dataset"], "module": module, "scaled": scaled,
        "estimator": estimator.format(task=suffix),
        "params": model_params, "test_size": float(params["split"]["test_size"]),
        "seed": int(params["split"]["seed"]),
        "stratify": 'frame["target"]' if task == "classification" else "None",
    }  # fmt: skip
    setup, work = FLOOR.format(**fields), FIT.format(**fields)
    return TIMERS.format(setup=setup, work=work, first="import_s", second="fit_s")


def toggle_hyper_parameter(params: Path) -> None:
    """Flip the default model's regularisation (C or alpha) between 1.0 and 0.5."""
    text = params.read_text(encoding="utf-8")
    for old, new in (("C: 1.0", "C: 0.5"), ("C: 0.5", "C: 1.0"), ("alpha: 1.0", "alpha: 0.5"),
                     ("alpha: 0.5", "alpha: 1.0")):  # fmt: skip
        if f"    {old}\n" in text:
            params.write_text(text.replace(f"    {old}\n", f"    {new}\n", 1), encoding="utf-8")
            return
    raise BenchmarkError(f"{params} has no C or alpha of 1.0 or 0.5 to change")


def one_repeat(project: Path, env: dict[str, str], samples: Samples) -> None:
    """The pipeline between two floors, DVC's no-op, a parameters-only run, plain repro."""

    def measure(name: str, args: list[str], probe: bool = False) -> Timing:
        timing = samples.add(name, run(args, project, env, timeout=1800))
        harness.log(f"  {name:<26} wall {timing.wall:7.2f} s   cpu {timing.cpu:7.2f} s")
        for key, seconds in (last_json(timing.stdout) if probe else {}).items():
            samples.note(f"inner.{name}.{key}", seconds)
        return timing

    floor = ["uv", "run", "--frozen", "python", "-c", floor_code(project)]
    before = measure("floor", floor, probe=True)
    pipeline = measure("pipeline", ["just", "pipeline", "--force"])
    after = measure("floor", floor, probe=True)
    floor_wall, floor_cpu = (before.wall + after.wall) / 2, (before.cpu + after.cpu) / 2
    samples.note("ratio.wall", pipeline.wall / floor_wall)
    samples.note("ratio.cpu", pipeline.cpu / floor_cpu)
    if "up to date" not in measure("dvc_noop", ["just", "pipeline"]).stdout:
        raise BenchmarkError("`just pipeline` right after a full run was not a no-op")
    toggle_hyper_parameter(project / "params.yaml")
    changed = measure("params_change", ["just", "pipeline"])
    if "Running stage 'prepare'" in changed.stdout or "Running stage 'train'" not in changed.stdout:
        raise BenchmarkError("a hyper-parameter change did not rerun exactly train onwards")
    samples.note("ratio.params_wall", changed.wall / floor_wall)
    measure("repro", ["just", "repro", "--force"])


def benchmark(args: argparse.Namespace) -> None:
    env = harness.command_env(bytecode_cache=not args.no_bytecode_cache)
    commit = run(
        ["git", "rev-parse", args.vcs_ref or "HEAD"], harness.TEMPLATE_ROOT, timeout=60
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        harness.log(f"a {args.problem_type} project from template {args.vcs_ref or commit}")
        data = {"problem_type": args.problem_type}
        project, _ = harness.new_project(Path(tmp), env, data=data, vcs_ref=args.vcs_ref or commit)
        if args.no_bytecode_cache:
            for cache in sorted(project.rglob("__pycache__"), reverse=True):
                shutil.rmtree(cache, ignore_errors=True)
        run(["just", "pipeline"], project, env, timeout=1800)  # warm-up, untimed
        run(
            ["uv", "run", "--frozen", "python", "-c", floor_code(project)],
            project,
            env,
            timeout=600,
        )
        summary = Summary("pipeline", settings={
            "problem_type": args.problem_type, "template_commit": commit,
            "template_working_tree_included": args.vcs_ref == "HEAD",
            "bytecode_cache": not args.no_bytecode_cache, "repeats": args.repeats,
        })  # fmt: skip
        code = "import json, platform; from importlib.metadata import version; print(json.dumps("
        code += "{'python': platform.python_version(), **{n: version(n) for n in ['mlflow', "
        code += "'scikit-learn', 'pandas', 'pandera', 'pyarrow', 'dvc']}}))"
        versions = run(["uv", "run", "--frozen", "python", "-c", code], project, env, timeout=600)
        summary.versions = last_json(versions.stdout) | harness.tool_versions(
            ("uv", "just"), project
        )
        samples = Samples()
        for index in range(args.repeats):
            harness.log(f"repeat {index + 1}/{args.repeats}")
            one_repeat(project, env, samples)
    summary.measure_all(samples)
    for name, values in sorted(samples.values.items()):
        if name.startswith("inner."):
            summary.measure(name, values)
    wall, cpu, params = (samples.values[f"ratio.{key}"] for key in ("wall", "cpu", "params_wall"))
    floor = median(samples.wall["floor"])
    summary.ratio(
        "pipeline_over_floor", median(wall), target=f"<= {TARGET}", digits=2, per_repeat=wall,
        of="pipeline / mean of the floors right before and after it, per repeat; median",
        cpu_median=median(cpu), cpu_per_repeat=cpu,
        of_medians=median(samples.wall["pipeline"]) / floor, budget_s=TARGET * floor,
    )  # fmt: skip
    of = "params_change / mean of the same repeat's floors; median"
    summary.ratio("params_change_over_floor", median(params), of=of, target=PARAMS_TARGET)
    scenario = args.problem_type + ("-no-bytecode-cache" if args.no_bytecode_cache else "")
    harness.report(args, summary, samples, scenario=scenario)


def parser() -> argparse.ArgumentParser:
    parser = harness.argument_parser(__doc__, benchmark="pipeline", repeats=3)
    parser.add_argument(
        "--problem-type", choices=["classification", "regression"], default="classification"
    )
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="force PYTHONDONTWRITEBYTECODE=1"
    )
    parser.add_argument(
        "--vcs-ref",
        help="template commit to render (default: the last; HEAD: with the working tree)",
    )
    return parser


if __name__ == "__main__":
    harness.main(benchmark, parser())
