"""Benchmark: `just pipeline` wall time against the floor of importing its libraries and fitting.

Target: `just pipeline --force`, bundled data, warm, takes at most 2.5x the floor of
importing its libraries and fitting the model, measured in the same run.

What the script does:

1. Renders a default project (``unsafe=False``) from the template's last commit (not the
   working tree: other people's uncommitted edits stay out; ``--vcs-ref HEAD`` includes
   them) into a temporary directory, commits it, runs ``just install`` and commits
   ``uv.lock``, as a user would.
2. Warms it up, untimed: one ``just pipeline`` (creates the MLflow database and, unless
   ``--no-bytecode-cache``, writes the bytecode cache of every module the stages import)
   and one floor process.
3. Per repeat, interleaved: the floor runs right before and right after the pipeline, and
   the repeat's ratio is the pipeline over the mean of those two floors, so drift of the
   shared machine's load hits both alike. Every measure records wall time and CPU time
   (user + system of the whole process tree), which is far less sensitive to other jobs:

   - ``pipeline``: ``just pipeline --force`` through the project's own recipe (DVC plans
     and records; the project's stages run in one process). ``--force`` is how "from a
     clean state" is reached: deleting the outputs and running the pipeline would not
     rerun anything, because DVC's run cache would restore them.
   - ``dvc_noop``: ``just pipeline`` right after, with nothing to do: DVC's own overhead.
   - ``params_change``: ``just pipeline`` after changing the model's regularisation in
     ``params.yaml`` (train, evaluate and register rerun), against the same floors.
   - ``repro``: ``just repro --force``, plain ``dvc repro``: one process per stage.
   - ``floor``: one fresh ``uv run --frozen python -c`` process that imports sklearn,
     pandas, pandera, mlflow and pyarrow and fits the configured model on the bundled
     dataset (same split and hyper-parameters as ``params.yaml``).
   - ``stage.<name>``: each ``just prepare/train/evaluate/register`` on its own.
   - ``split.<name>``: the same stage called in-process from ``python -c``, timing the
     import of its module apart from the run, to attribute start-up cost.
   - ``inprocess``: all four stages called one after another in a single ``python -c``
     process (no DVC): the pipeline's own work without its per-stage process start-ups.
   - ``startup`` and ``import.*``: bare ``uv run --frozen python -c`` processes (nothing;
     ``import mlflow``; ...) and ``mlflow_store_open`` (import mlflow, then open the
     project's SQLite tracking store), to attribute import time.

4. Prints a table of medians and writes them, the raw samples and the ratios to
   ``benchmarks/results/pipeline.json`` (merged by scenario, e.g. ``classification``).

Run it with ``uv run --frozen python benchmarks/bench_pipeline.py [--repeats 3]
[--problem-type regression] [--no-bytecode-cache]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy
from harness import TEMPLATE_ROOT, BenchmarkError, Timing, command_env
from harness import run as run_timed

DEFAULT_OUTPUT = TEMPLATE_ROOT / "benchmarks" / "results" / "pipeline.json"
TARGET_RATIO = 2.5
PARAMS_TARGET_RATIO = 2.0  # only the model's hyper-parameters changed
STAGES = ("prepare", "train", "evaluate", "register")
TIMEOUT_S = 1800.0

# Attribution probes: one fresh `uv run --frozen python -c` process each.
IMPORT_PROBES: Mapping[str, str] = {
    "startup": "pass",
    "import.pandas_pyarrow": "import pandas, pyarrow",
    "import.pandera": "import pandera.pandas",
    "import.sklearn": "import sklearn.datasets, sklearn.linear_model, sklearn.ensemble",
    "import.mlflow": "import mlflow",
    "import.mlflow_sklearn": "import mlflow, sklearn.datasets, sklearn.linear_model",
}

# The estimator each `model.kind` builds, mirroring src/<package>/models/*.py.
_ESTIMATORS: Mapping[tuple[str, str], tuple[str, str, bool]] = {
    ("classification", "logistic_regression"): (
        "sklearn.linear_model",
        "LogisticRegression",
        True,
    ),
    ("classification", "random_forest"): ("sklearn.ensemble", "RandomForestClassifier", False),
    ("classification", "gradient_boosting"): (
        "sklearn.ensemble",
        "HistGradientBoostingClassifier",
        False,
    ),
    ("regression", "ridge"): ("sklearn.linear_model", "Ridge", True),
    ("regression", "random_forest"): ("sklearn.ensemble", "RandomForestRegressor", False),
    ("regression", "gradient_boosting"): (
        "sklearn.ensemble",
        "HistGradientBoostingRegressor",
        False,
    ),
}
_DATASETS = {
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "iris": "load_iris",
    "wine": "load_wine",
}

FLOOR_TEMPLATE = """\
import json, time
t0 = time.perf_counter()
import mlflow, pandas, pandera.pandas, pyarrow, sklearn
from sklearn.datasets import {loader}
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from {module} import {estimator}
t1 = time.perf_counter()
frame = {loader}(as_frame=True).frame
features, target = frame.drop(columns=["target"]), frame["target"]
x_train, _, y_train, _ = train_test_split(
    features, target, test_size={test_size!r}, random_state={seed!r}, stratify={stratify}
)
model = {estimator}(**{params!r})
model = make_pipeline(StandardScaler(), model) if {scaled!r} else model
model.fit(x_train, y_train)
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "fit_s": t2 - t1}}))
"""

SPLIT_TEMPLATE = """\
import json, sys, time
t0 = time.perf_counter()
from {package}.cli import main
import {package}.pipeline.{stage}
t1 = time.perf_counter()
status = main([{stage!r}])
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "run_s": t2 - t1}}))
sys.exit(status)
"""

INPROCESS_TEMPLATE = """\
import json, time
t0 = time.perf_counter()
from {package}.cli import main
t1 = time.perf_counter()
for stage in {stages!r}:
    if main([stage]) != 0:
        raise SystemExit(f"stage {{stage}} failed")
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "run_s": t2 - t1}}))
"""

STORE_TEMPLATE = """\
import json, time
t0 = time.perf_counter()
import mlflow
from mlflow.tracking import MlflowClient
t1 = time.perf_counter()
MlflowClient(tracking_uri={uri!r}).search_experiments(max_results=1)
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "open_s": t2 - t1}}))
"""


@dataclass
class Samples:
    """Wall and CPU times (and in-process timings) collected per measure, in seconds."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    inner: dict[str, list[float]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, timing: Timing) -> None:
        """Record one sample of ``name``."""
        self.wall.setdefault(name, []).append(timing.wall)
        self.cpu.setdefault(name, []).append(timing.cpu)

    def add_inner(self, name: str, timings: Mapping[str, float]) -> None:
        """Record in-process timings reported by a probe as ``name.<key>``."""
        for key, seconds in timings.items():
            self.inner.setdefault(f"{name}.{key}", []).append(float(seconds))


def run(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Timing:
    """Run and time one command in the generated project (see ``harness.run``)."""
    return run_timed(args, cwd, env, timeout=TIMEOUT_S)


def last_json_line(stdout: str) -> dict[str, float]:
    """The JSON object a probe printed as its last line."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    data = json.loads(lines[-1])
    if not isinstance(data, dict):
        raise BenchmarkError(f"Expected a JSON object, got: {lines[-1]}")
    return {str(key): float(value) for key, value in data.items()}


def python_c(code: str) -> list[str]:
    """Command that runs ``code`` in the project's locked environment."""
    return ["uv", "run", "--frozen", "python", "-c", code]


def commit_all(project: Path, env: Mapping[str, str], message: str) -> None:
    """Initialise git if needed and commit everything, as a user would."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "--quiet", "--no-verify", "-m", message], project, env)


def template_commit(ref: str, env: Mapping[str, str]) -> str:
    """The template commit ``ref`` names."""
    return run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], TEMPLATE_ROOT, env
    ).stdout.strip()


def create_project(parent: Path, problem_type: str, vcs_ref: str, env: Mapping[str, str]) -> Path:
    """Render, commit and install a default project; return its path.

    ``vcs_ref`` is a template commit; the literal ``HEAD`` makes copier include the
    working tree's uncommitted changes as well.
    """
    project = parent / "project"
    run_copy(
        str(TEMPLATE_ROOT),
        project,
        data={"problem_type": problem_type},
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref=vcs_ref,
    )
    commit_all(project, env, "chore: generate project")
    run(["just", "install"], project, env)
    commit_all(project, env, "build: lock dependencies")
    return project


def remove_bytecode(project: Path) -> None:
    """Delete every ``__pycache__`` in the project and its environment."""
    for cache in sorted(project.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)


def floor_code(project: Path) -> str:
    """The floor probe for the project's configured dataset, split and model."""
    params: dict[str, Any] = yaml.safe_load((project / "params.yaml").read_text())
    task = str(params["task"])
    kind = str(params["model"]["kind"])
    try:
        module, estimator, scaled = _ESTIMATORS[(task, kind)]
    except KeyError:
        raise BenchmarkError(f"No floor defined for {task} model {kind!r}.") from None
    model_params = dict(params["model"].get("params") or {})
    if "seed" in model_params:
        model_params["random_state"] = model_params.pop("seed")
    return FLOOR_TEMPLATE.format(
        loader=_DATASETS[str(params["data"]["dataset"])],
        module=module,
        estimator=estimator,
        params=model_params,
        scaled=scaled,
        test_size=float(params["split"]["test_size"]),
        seed=int(params["split"]["seed"]),
        stratify="target" if task == "classification" else "None",
    )


def package_name(project: Path) -> str:
    """Import name of the generated package."""
    answers: dict[str, Any] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return str(answers["package_name"])


def library_versions(project: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Versions of the libraries that dominate the pipeline's cost."""
    code = (
        "import json, platform; from importlib.metadata import version; "
        "names = ['mlflow', 'scikit-learn', 'pandas', 'pandera', 'pyarrow', 'dvc']; "
        "print(json.dumps({'python': platform.python_version(), "
        "**{n: version(n) for n in names}}))"
    )
    data = json.loads(run(python_c(code), project, env).stdout.splitlines()[-1])
    return {str(key): str(value) for key, value in data.items()}


def tool_versions(project: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Versions of uv and just used to drive the project."""
    return {tool: run([tool, "--version"], project, env).stdout.strip() for tool in ("uv", "just")}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "note": "shared machine; other jobs ran concurrently, so compare ratios, not seconds",
    }


def measure_repeat(
    project: Path,
    package: str,
    env: Mapping[str, str],
    samples: Samples,
    log: Callable[[str], None],
) -> None:
    """One repeat of every measure, the pipeline bracketed by two floors."""

    def measure(name: str, args: Sequence[str]) -> str:
        timing = run(args, project, env)
        samples.add(name, timing)
        log(f"  {name:<26} wall {timing.wall:7.2f} s   cpu {timing.cpu:7.2f} s")
        return timing.stdout

    def floor() -> Timing:
        timing = run(python_c(floor_code(project)), project, env)
        samples.add("floor", timing)
        samples.add_inner("floor", last_json_line(timing.stdout))
        log(f"  {'floor':<26} wall {timing.wall:7.2f} s   cpu {timing.cpu:7.2f} s")
        return timing

    before = floor()
    pipeline = run(["just", "pipeline", "--force"], project, env)
    samples.add("pipeline", pipeline)
    log(f"  {'pipeline':<26} wall {pipeline.wall:7.2f} s   cpu {pipeline.cpu:7.2f} s")
    after = floor()
    for kind in ("wall", "cpu"):
        reference = (getattr(before, kind) + getattr(after, kind)) / 2
        samples.ratios.setdefault(kind, []).append(getattr(pipeline, kind) / reference)

    if "up to date" not in measure("dvc_noop", ["just", "pipeline"]):
        raise BenchmarkError("`just pipeline` right after a full run was not a no-op.")
    toggle_hyper_parameter(project / "params.yaml")
    changed = measure("params_change", ["just", "pipeline"])
    if "Running stage 'prepare'" in changed or "Running stage 'train'" not in changed:
        raise BenchmarkError("a hyper-parameter change did not rerun exactly train onwards.")
    reference = (before.wall + after.wall) / 2
    samples.ratios.setdefault("params_wall", []).append(
        samples.wall["params_change"][-1] / reference
    )
    measure("repro", ["just", "repro", "--force"])
    for stage in STAGES:
        measure(f"stage.{stage}", ["just", stage])
    for stage in STAGES:
        stdout = measure(
            f"split.{stage}", python_c(SPLIT_TEMPLATE.format(package=package, stage=stage))
        )
        samples.add_inner(f"split.{stage}", last_json_line(stdout))
    stdout = measure(
        "inprocess", python_c(INPROCESS_TEMPLATE.format(package=package, stages=STAGES))
    )
    samples.add_inner("inprocess", last_json_line(stdout))
    for name, code in IMPORT_PROBES.items():
        measure(name, python_c(code))
    uri = f"sqlite:///{(project / 'mlflow.db').resolve()}"
    stdout = measure("mlflow_store_open", python_c(STORE_TEMPLATE.format(uri=uri)))
    samples.add_inner("mlflow_store_open", last_json_line(stdout))


def attribute(med: Mapping[str, float]) -> dict[str, float]:
    """Split the pipeline's time into its parts, from the medians of one basis (wall or CPU)."""
    startup = med["startup"]
    stages_total = sum(med[f"stage.{stage}"] for stage in STAGES)
    parts = {
        "excess_over_floor": med["pipeline"] - med["floor"],
        "stages_sum": stages_total,
        "dvc_in_pipeline": med["pipeline"] - stages_total,
        "dvc_noop": med["dvc_noop"],
        "inprocess_all_stages": med["inprocess"],
        "process_startups_and_dvc": med["pipeline"] - med["inprocess"],
        "uv_python_startup_each": startup,
        "mlflow_import_each": med["import.mlflow"] - startup,
        "sklearn_import_each": med["import.sklearn"] - startup,
        "sklearn_after_mlflow_each": med["import.mlflow_sklearn"] - med["import.mlflow"],
        "pandas_pyarrow_import_each": med["import.pandas_pyarrow"] - startup,
        "pandera_import_each": med["import.pandera"] - startup,
    }
    return {name: round(value, 2) for name, value in parts.items()}


def toggle_hyper_parameter(params: Path) -> None:
    """Flip the default model's regularisation (C or alpha) between 1.0 and 0.5."""
    text = params.read_text()
    for name in ("C", "alpha"):
        for old, new in ((f"{name}: 1.0", f"{name}: 0.5"), (f"{name}: 0.5", f"{name}: 1.0")):
            if f"    {old}\n" in text:
                params.write_text(text.replace(f"    {old}\n", f"    {new}\n", 1))
                return
    raise BenchmarkError(f"{params} has no C or alpha of 1.0 or 0.5 to change.")


def summarise(samples: Samples) -> dict[str, Any]:
    """Medians, the paired pipeline/floor ratios and the attribution of the excess."""
    wall = {name: statistics.median(values) for name, values in samples.wall.items()}
    cpu = {name: statistics.median(values) for name, values in samples.cpu.items()}
    inner = {name: statistics.median(values) for name, values in samples.inner.items()}
    ratio = statistics.median(samples.ratios["wall"])
    return {
        "median_wall_s": {name: round(value, 3) for name, value in sorted(wall.items())},
        "median_cpu_s": {name: round(value, 3) for name, value in sorted(cpu.items())},
        "inner_median_wall_s": {name: round(value, 3) for name, value in sorted(inner.items())},
        "ratio": {
            "pipeline_over_floor": round(ratio, 2),
            "per_repeat": [round(value, 2) for value in samples.ratios["wall"]],
            "cpu_pipeline_over_floor": round(statistics.median(samples.ratios["cpu"]), 2),
            "cpu_per_repeat": [round(value, 2) for value in samples.ratios["cpu"]],
            "of_medians": round(wall["pipeline"] / wall["floor"], 2),
            "target_max": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO,
            "budget_s": round(TARGET_RATIO * wall["floor"], 2),
            "over_budget_s": round(wall["pipeline"] - TARGET_RATIO * wall["floor"], 2),
            "params_change_over_floor": round(statistics.median(samples.ratios["params_wall"]), 2),
            "params_change_per_repeat": [
                round(value, 2) for value in samples.ratios["params_wall"]
            ],
            "params_change_target_max": PARAMS_TARGET_RATIO,
        },
        "attribution_wall_s": attribute(wall),
        "attribution_cpu_s": attribute(cpu),
        "attribution_inner_wall_s": {
            "mlflow_store_open_each": round(inner["mlflow_store_open.open_s"], 2),
            "floor_imports": round(inner["floor.import_s"], 2),
            "floor_fit": round(inner["floor.fit_s"], 2),
            **{
                f"{stage}_module_imports": round(inner[f"split.{stage}.import_s"], 2)
                for stage in STAGES
            },
            **{f"{stage}_run": round(inner[f"split.{stage}.run_s"], 2) for stage in STAGES},
            "inprocess_imports": round(inner["inprocess.import_s"], 2),
            "inprocess_run": round(inner["inprocess.run_s"], 2),
        },
    }


def print_table(summary: Mapping[str, Any], samples: Samples) -> None:
    """Print medians (wall and CPU), the spread of wall times and multiples of the floor."""
    wall: Mapping[str, float] = summary["median_wall_s"]
    cpu: Mapping[str, float] = summary["median_cpu_s"]
    print(
        f"\n{'measure':<24} {'wall s':>8} {'min':>7} {'max':>7} {'x floor':>8} "
        f"{'cpu s':>8} {'x floor':>8}"
    )
    for name in sorted(
        wall, key=lambda n: (not n.startswith(("pipeline", "floor", "inprocess")), n)
    ):
        values = samples.wall[name]
        print(
            f"{name:<24} {wall[name]:8.2f} {min(values):7.2f} {max(values):7.2f} "
            f"{wall[name] / wall['floor']:8.2f} {cpu[name]:8.2f} {cpu[name] / cpu['floor']:8.2f}"
        )
    ratio = summary["ratio"]
    verdict = "meets" if ratio["meets_target"] else "MISSES"
    print(
        f"\npipeline / floor (wall) = {ratio['pipeline_over_floor']:.2f}x, median of paired "
        f"repeats {ratio['per_repeat']}; target <= {TARGET_RATIO:g}x: {verdict} "
        f"(budget {ratio['budget_s']:.1f} s, over by {ratio['over_budget_s']:.1f} s)"
    )
    print(
        f"pipeline / floor (cpu)  = {ratio['cpu_pipeline_over_floor']:.2f}x, "
        f"per repeat {ratio['cpu_per_repeat']}"
    )
    params_ratio = ratio["params_change_over_floor"]
    params_verdict = "meets" if params_ratio <= PARAMS_TARGET_RATIO else "MISSES"
    print(
        f"hyper-parameter change / floor (wall) = {params_ratio:.2f}x, per repeat "
        f"{ratio['params_change_per_repeat']}; target <= {PARAMS_TARGET_RATIO:g}x: {params_verdict}"
    )
    for key in ("attribution_wall_s", "attribution_cpu_s", "attribution_inner_wall_s"):
        print(f"\n{key} (medians):")
        for name, value in summary[key].items():
            print(f"  {name:<30} {value:7.2f}")


def write_results(output: Path, scenario: str, record: Mapping[str, Any]) -> None:
    """Merge this scenario's record into ``output`` (other scenarios are kept)."""
    data: dict[str, Any] = {}
    if output.is_file():
        data = json.loads(output.read_text(encoding="utf-8"))
    data.update(
        {
            "benchmark": "pipeline",
            "target": (
                "`just pipeline --force`, bundled data, warm <= 2.5x the floor of "
                "importing its libraries + fitting the model"
            ),
            "method": "benchmarks/bench_pipeline.py; see docs/pipeline-performance.md",
        }
    )
    data.setdefault("scenarios", {})[scenario] = record
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument(
        "--problem-type",
        choices=["classification", "regression"],
        default="classification",
        help="project to generate (default classification)",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="force PYTHONDONTWRITEBYTECODE=1: every process compiles its imports from source",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file (merged)"
    )
    parser.add_argument(
        "--vcs-ref",
        default=None,
        help="template commit to render (default: the last commit; HEAD adds uncommitted edits)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the process exit status (0 even if the target is missed)."""
    args = parse_args(argv)
    bytecode_cache = not args.no_bytecode_cache
    env = command_env(bytecode_cache=bytecode_cache)
    scenario = args.problem_type + ("" if bytecode_cache else "-no-bytecode-cache")

    def log(message: str) -> None:
        print(message, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        log(f"generating and installing a {args.problem_type} project in {workdir} ...")
        commit = template_commit(args.vcs_ref or "HEAD", env)
        vcs_ref = args.vcs_ref or commit
        log(f"template commit {commit} (ref {vcs_ref})")
        project = create_project(workdir, args.problem_type, vcs_ref, env)
        package = package_name(project)
        if not bytecode_cache:
            remove_bytecode(project)
        log("warm-up (untimed): just pipeline, floor ...")
        run(["just", "pipeline"], project, env)
        run(python_c(floor_code(project)), project, env)

        samples = Samples()
        load_before = os.getloadavg()
        started = datetime.now(tz=UTC)
        for index in range(args.repeats):
            log(f"repeat {index + 1}/{args.repeats}")
            measure_repeat(project, package, env, samples, log)
        load_after = os.getloadavg()

        summary = summarise(samples)
        print_table(summary, samples)
        record = {
            "date": started.isoformat(timespec="seconds"),
            "problem_type": args.problem_type,
            "template_commit": commit,
            "template_working_tree_included": vcs_ref == "HEAD",
            "bytecode_cache": bytecode_cache,
            "repeats": args.repeats,
            "machine": machine()
            | {"loadavg_1m_before": load_before[0], "loadavg_1m_after": load_after[0]},
            "versions": library_versions(project, env) | tool_versions(project, env),
            **summary,
            "samples_wall_s": {
                name: [round(v, 3) for v in values] for name, values in samples.wall.items()
            },
            "samples_cpu_s": {
                name: [round(v, 3) for v in values] for name, values in samples.cpu.items()
            },
            "inner_samples_s": {
                name: [round(v, 3) for v in values] for name, values in samples.inner.items()
            },
        }
        write_results(args.output, scenario, record)
        log(f"\nwrote {args.output} (scenario {scenario!r})")
    finally:
        if args.keep:
            log(f"kept the project in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
