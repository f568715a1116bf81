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

4. Prints the summary (medians, the paired ratios against their targets, the attribution)
   and writes it to ``benchmarks/results/pipeline.json``, one entry per scenario (e.g.
   ``classification``); other scenarios in the file are kept.

Run it with ``uv run --frozen python benchmarks/bench_pipeline.py [--repeats 3]
[--problem-type regression] [--no-bytecode-cache]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from copier import run_copy
from harness import (
    TEMPLATE_ROOT,
    BenchmarkError,
    Samples,
    Summary,
    Timing,
    argument_parser,
    command_env,
    markdown_table,
    median,
    report,
    tool_versions,
)
from harness import run as run_timed

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


def note_probe(samples: Samples, name: str, stdout: str) -> None:
    """Record the in-process timings a probe printed as ``inner.<name>.<key>``."""
    for key, seconds in last_json_line(stdout).items():
        samples.note(f"inner.{name}.{key}", seconds)


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
        note_probe(samples, "floor", timing.stdout)
        log(f"  {'floor':<26} wall {timing.wall:7.2f} s   cpu {timing.cpu:7.2f} s")
        return timing

    before = floor()
    pipeline = run(["just", "pipeline", "--force"], project, env)
    samples.add("pipeline", pipeline)
    log(f"  {'pipeline':<26} wall {pipeline.wall:7.2f} s   cpu {pipeline.cpu:7.2f} s")
    after = floor()
    samples.note("ratio.wall", pipeline.wall / ((before.wall + after.wall) / 2))
    samples.note("ratio.cpu", pipeline.cpu / ((before.cpu + after.cpu) / 2))

    if "up to date" not in measure("dvc_noop", ["just", "pipeline"]):
        raise BenchmarkError("`just pipeline` right after a full run was not a no-op.")
    toggle_hyper_parameter(project / "params.yaml")
    changed = measure("params_change", ["just", "pipeline"])
    if "Running stage 'prepare'" in changed or "Running stage 'train'" not in changed:
        raise BenchmarkError("a hyper-parameter change did not rerun exactly train onwards.")
    reference = (before.wall + after.wall) / 2
    samples.note("ratio.params_wall", samples.wall["params_change"][-1] / reference)
    measure("repro", ["just", "repro", "--force"])
    for stage in STAGES:
        measure(f"stage.{stage}", ["just", stage])
    for stage in STAGES:
        stdout = measure(
            f"split.{stage}", python_c(SPLIT_TEMPLATE.format(package=package, stage=stage))
        )
        note_probe(samples, f"split.{stage}", stdout)
    stdout = measure(
        "inprocess", python_c(INPROCESS_TEMPLATE.format(package=package, stages=STAGES))
    )
    note_probe(samples, "inprocess", stdout)
    for name, code in IMPORT_PROBES.items():
        measure(name, python_c(code))
    uri = f"sqlite:///{(project / 'mlflow.db').resolve()}"
    stdout = measure("mlflow_store_open", python_c(STORE_TEMPLATE.format(uri=uri)))
    note_probe(samples, "mlflow_store_open", stdout)


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


def summarise(summary: Summary, samples: Samples) -> None:
    """Medians, the paired pipeline/floor ratios and the attribution of the excess."""
    summary.measure_all(samples)
    inner = {
        name.removeprefix("inner."): values
        for name, values in samples.values.items()
        if name.startswith("inner.")
    }
    for name, values in sorted(inner.items()):
        summary.measure(f"inner.{name}", values)
    wall = {name: median(values) for name, values in samples.wall.items()}
    cpu = {name: median(values) for name, values in samples.cpu.items()}
    ratios, cpu_ratios = samples.values["ratio.wall"], samples.values["ratio.cpu"]
    params = samples.values["ratio.params_wall"]
    summary.ratio(
        "pipeline_over_floor",
        median(ratios),
        of="pipeline / mean of the floors right before and after it, per repeat; median",
        digits=2,
        at_most=TARGET_RATIO,
        per_repeat=ratios,
        cpu_median=median(cpu_ratios),
        cpu_per_repeat=cpu_ratios,
        of_medians=wall["pipeline"] / wall["floor"],
        budget_s=TARGET_RATIO * wall["floor"],
        over_budget_s=wall["pipeline"] - TARGET_RATIO * wall["floor"],
    )
    summary.ratio(
        "params_change_over_floor",
        median(params),
        of="params_change / mean of the same repeat's floors; median",
        digits=2,
        at_most=PARAMS_TARGET_RATIO,
        per_repeat=params,
    )
    inner_median = {name: median(values) for name, values in inner.items()}
    summary.details = {
        "attribution_wall_s": attribute(wall),
        "attribution_cpu_s": attribute(cpu),
        "attribution_inner_wall_s": {
            name: round(value, 2) for name, value in attribute_inner(inner_median).items()
        },
    }


def attribute_inner(inner: Mapping[str, float]) -> dict[str, float]:
    """The probes' own timers: opening the store, the floor's parts, each stage's parts."""
    return {
        "mlflow_store_open_each": inner["mlflow_store_open.open_s"],
        "floor_imports": inner["floor.import_s"],
        "floor_fit": inner["floor.fit_s"],
        **{f"{stage}_module_imports": inner[f"split.{stage}.import_s"] for stage in STAGES},
        **{f"{stage}_run": inner[f"split.{stage}.run_s"] for stage in STAGES},
        "inprocess_imports": inner["inprocess.import_s"],
        "inprocess_run": inner["inprocess.run_s"],
    }


def print_attribution(details: Mapping[str, Mapping[str, float]]) -> None:
    """Print where the pipeline's time goes (medians, seconds)."""
    wall, cpu = details["attribution_wall_s"], details["attribution_cpu_s"]
    print("\nattribution (medians, s):\n")
    print(markdown_table(("part", "wall", "cpu"), [[n, wall[n], cpu[n]] for n in wall]))
    print("\nin-process timers (medians, s):\n")
    print(markdown_table(("part", "wall"), details["attribution_inner_wall_s"].items()))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argument_parser(__doc__, benchmark="pipeline", repeats=3)
    parser.add_argument(
        "--problem-type",
        choices=["classification", "regression"],
        default="classification",
        help="project to generate",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="force PYTHONDONTWRITEBYTECODE=1: every process compiles its imports from source",
    )
    parser.add_argument(
        "--vcs-ref",
        default=None,
        help="template commit to render (default: the last commit; HEAD adds uncommitted edits)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    return parser.parse_args(argv)


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
        summary = Summary(
            "pipeline",
            settings={
                "problem_type": args.problem_type,
                "template_commit": commit,
                "template_working_tree_included": vcs_ref == "HEAD",
                "bytecode_cache": bytecode_cache,
                "repeats": args.repeats,
            },
            versions=library_versions(project, env) | tool_versions(("uv", "just"), project),
        )
        for index in range(args.repeats):
            log(f"repeat {index + 1}/{args.repeats}")
            measure_repeat(project, package, env, samples, log)

        summarise(summary, samples)
        print_attribution(summary.details)
        report(args, summary, samples, scenario=scenario)
    finally:
        if args.keep:
            log(f"kept the project in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
