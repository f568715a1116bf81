"""Command-line interface: ``<package> <command> [options]``.

Pipeline stages (``prepare``, ``train``, ``evaluate``, ``register``) are what
``dvc.yaml`` runs; ``pipeline`` validates ``params.yaml``, then reproduces
the stale stages in one process (``validate`` does only the check);
``models ...`` manages the registry; ``predict`` scores a file with a
registered version; ``export`` writes a version's verified bundle and
``serve`` serves it over HTTP (see :mod:`.serving`); ``deploy`` renders its
KServe manifests and applies them (see :mod:`.deployment`). Every user-fixable failure is a
:class:`~.errors.ProjectError`: the CLI prints it as one ``error:`` line and
exits non-zero instead of a traceback. Heavy libraries are imported by the
commands that use them, so ``--help`` and the registry's read commands start fast.

Exit status: 0 success, 2 bad input or a refused operation, 3 refused by a gate.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compute.local_cluster import add_cluster_commands
from .deployment.rollout.command import add_rollout_commands
from .errors import GateFailedError, ProjectError
from .governance.commands import add_governance_commands
from .monitoring.commands import add_drift_commands
from .paths import ProjectPaths, find_project_root
from .retrain_commands import add_retrain_commands
from .scoring.commands import add_score_commands
from .tuning.commands import add_tune_commands

if TYPE_CHECKING:
    from .commands import Handler, Registrar
    from .config import Params
    from .registry.records import VersionRecord
    from .registry.service import ModelRegistry


EXIT_USAGE_ERROR = 2
EXIT_GATE_FAILED = 3
#: As shells report a command ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
STAGE_WORDS = {
    "production": "in production (@champion)",
    "staging": "in staging (@challenger)",
    "development": "in development",
    "archived": "archived",
}


def _validate(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .data.loader import available_datasets  # noqa: PLC0415 - keep `--help` fast
    from .errors import ConfigError  # noqa: PLC0415
    from .models.factory import build_model  # noqa: PLC0415

    if params.data.dataset not in available_datasets():
        raise ConfigError(
            f"Unknown dataset {params.data.dataset!r} in data.dataset; accepted: "
            f"{', '.join(available_datasets())}."
        )
    build_model(params.task, params.model)
    search = params.search
    if search.method != "none":
        from .tuning.space import check_candidates, grid, random_draws  # noqa: PLC0415

        # A grid is checked whole; random and optuna candidates by a seeded sample.
        sample = grid(search) if search.method == "grid" else random_draws(search)
        check_candidates(params.task, params.model, sample)
    tuned = "" if search.method == "none" else f", tuned by {search.method} search"
    print(
        f"{paths.params.name} is valid: {params.task} on {params.data.dataset}, "
        f"model {params.model.kind}{tuned}, "
        f"gates {', '.join(sorted(params.gates.thresholds())) or '-'}"
    )
    return 0


def _pipeline(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    # A config error must stop here: DVC removes a stage's outputs before running it.
    _validate(args, params, paths)
    from .pipeline.runner import reproduce  # noqa: PLC0415 - DVC only for the pipeline

    params_file = str(args.params or paths.params)

    def run_stage(name: str) -> int:
        return main(["--params", params_file, name])

    ran = reproduce(str(paths.root), __package__, run_stage, targets=args.targets, force=args.force)
    if not ran:
        print("Data and pipelines are up to date.")
    return 0


def _prepare(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .pipeline.prepare import prepare  # noqa: PLC0415

    print(json.dumps(prepare(params, paths)))
    return 0


def _train(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .pipeline.train import train  # noqa: PLC0415

    run = train(params, paths)
    print(json.dumps({"run_id": run.run_id, "model_uri": run.model_uri}))
    return 0


def _evaluate(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .pipeline.evaluate import evaluate  # noqa: PLC0415

    print(json.dumps(evaluate(params, paths), indent=2, sort_keys=True))
    return 0


def _register(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .pipeline.register import NotRegistered, register_stage  # noqa: PLC0415

    result = register_stage(params, paths, pinned=args.version, by=args.by)
    if isinstance(result, NotRegistered):
        print(result.reason)
        return 0
    what = f"registered {params.registry.model_name} {result.version} ({result.bump})"
    if not result.new:
        what = f"run already registered as {params.registry.model_name} {result.version}"
    print(f"{what}; {STAGE_WORDS.get(result.stage, result.stage)}")
    for refusal in result.refused:
        print(f"not promoted: {refusal}", file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    import tempfile  # noqa: PLC0415

    from .data.batch import feature_frame, read_batch  # noqa: PLC0415
    from .errors import DataValidationError  # noqa: PLC0415
    from .registry.service import ModelRegistry  # noqa: PLC0415
    from .serving.bundle import open_bundle  # noqa: PLC0415
    from .serving.predictor import Predictor  # noqa: PLC0415

    source: Path = args.input
    frame = read_batch(source)
    # The version's verified bundle, as `serve` runs it: on the project's own store it is
    # copied from mlartifacts/ without importing MLflow; a tracking server goes through it.
    registry = ModelRegistry.for_reading(paths, params)
    with tempfile.TemporaryDirectory() as tmp:
        record, bundle = registry.export(args.model, Path(tmp) / "bundle")
        predictor = Predictor(open_bundle(bundle))
    try:
        rows = feature_frame(frame, [feature.name for feature in predictor.model.features])
        predictions = predictor.predict_batch(rows)
    except DataValidationError as exc:
        raise DataValidationError(f"{source}: {exc}") from None
    print(json.dumps({"version": record.semver, "predictions": predictions}))
    return 0


def _export(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .registry.service import ModelRegistry  # noqa: PLC0415

    record, bundle = ModelRegistry(paths, params).export(args.model, args.output or paths.bundle)
    print(json.dumps({"version": record.semver, "bundle": str(bundle)}))
    return 0


def _serve(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    import os  # noqa: PLC0415

    from .registry.service import ModelRegistry  # noqa: PLC0415
    from .serving.__main__ import serve  # noqa: PLC0415

    ref = args.model or os.environ.get("SERVING_MODEL") or "@champion"
    registry = ModelRegistry(paths, params)
    record, bundle = registry.export(ref, paths.bundle)
    print(f"exported {params.registry.model_name} {record.semver} to {bundle}", file=sys.stderr)
    shadow_bundle = None
    if shadow_ref := os.environ.get("SHADOW_MODEL", "").strip():
        # The shadow's bundle sits beside the primary's, exported and verified the same way.
        shadow, shadow_bundle = registry.export(shadow_ref, paths.bundle.parent / "shadow")
        print(f"exported shadow {shadow.semver} to {shadow_bundle}", file=sys.stderr)
    return serve(bundle, host=args.host, port=args.port, shadow_bundle=shadow_bundle)


def _deploy(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    import os  # noqa: PLC0415

    from .deployment.service import deploy  # noqa: PLC0415
    from .registry.service import ModelRegistry  # noqa: PLC0415

    result = deploy(
        ModelRegistry.for_reading(paths, params),
        args.version,
        root=paths.root,
        environment=args.env,
        canary=args.canary,
        repository=args.image or os.environ.get("IMAGE"),
        by=args.by,
        apply=not args.render_only,
        if_deployed=args.if_deployed,
        shadow=args.shadow,
    )
    print("\n".join(result.lines()))
    return 0


def _announce(name: str, record: VersionRecord, champion: VersionRecord | None) -> None:
    print(f"{name} {record.semver} is now {STAGE_WORDS.get(record.stage, record.stage)}")
    if record.stage != "production":
        after = f"{champion.semver} (@champion)" if champion else "empty: nothing is served"
        print(f"production: {after}")


def _models(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .registry.service import CHAMPION, ModelRegistry  # noqa: PLC0415

    readers: dict[str, Callable[[ModelRegistry, argparse.Namespace, Params], int]] = {
        "list": _list,
        "info": _info,
        "compare": _compare,
        "history": _history,
        "gates": _gates,
    }
    if args.action in readers:
        return readers[args.action](ModelRegistry.for_reading(paths, params), args, params)
    registry = ModelRegistry(paths, params)
    name = params.registry.model_name
    # After a promotion or rollback, what production serves is read back from the registry.
    if args.action == "promote":
        record = registry.promote(args.version, args.to, by=args.by, reason=args.reason)
        _announce(name, record, registry.by_alias(CHAMPION))
    elif args.action == "rollback":
        record = registry.rollback(args.version, by=args.by, reason=args.reason)
        _announce(name, record, registry.by_alias(CHAMPION))
    elif args.action == "drift":
        record = registry.set_drift_status(
            args.version, args.status, by=args.by, reason=args.reason
        )
        print(f"{name} {record.semver}: drift check {args.status} (manual override)")
    else:
        retire = registry.demote if args.action == "demote" else registry.archive
        record, champion = retire(
            args.version,
            by=args.by,
            reason=args.reason,
            replacement=args.replacement,
            force=args.force,
        )
        _announce(name, record, champion)
    return 0


def _list(registry: ModelRegistry, args: argparse.Namespace, params: Params) -> int:
    from .registry import report  # noqa: PLC0415

    metric = params.gates.primary_metric
    names = [
        metric,
        *sorted({key.split("_", 1)[1] for key in params.gates.thresholds()} - {metric}),
    ]
    print(report.versions_table(registry.versions(), names))
    return 0


def _info(registry: ModelRegistry, args: argparse.Namespace, params: Params) -> int:
    record = registry.get(args.version)
    info = (
        record.summary()
        | registry.location(record)
        | {"history": [e.__dict__ for e in registry.history() if e.version == record.semver]}
    )
    print(json.dumps(info, indent=2, sort_keys=True))
    return 0


def _compare(registry: ModelRegistry, args: argparse.Namespace, params: Params) -> int:
    from .registry import report  # noqa: PLC0415

    first, second = registry.get(args.first), registry.get(args.second)
    print(report.comparison_table(first, second))
    for warning in report.comparability_warnings(first, second):
        print(f"warning: {warning}")
    return 0


def _history(registry: ModelRegistry, args: argparse.Namespace, params: Params) -> int:
    from .registry import report  # noqa: PLC0415

    print(report.history_table(registry.history()))
    return 0


def _gates(registry: ModelRegistry, args: argparse.Namespace, params: Params) -> int:
    record = registry.get(args.version)
    results = registry.check(record, args.to)
    for result in results:
        print(result.describe())
    failed = sum(not result.passed for result in results)
    if failed:
        print(
            f"error: {record.semver} would be refused for {args.to} by {failed} gate(s).",
            file=sys.stderr,
        )
        return EXIT_GATE_FAILED
    return 0


class _VersionAction(argparse.Action):
    """``--version``: looks the installed version up only when asked (it costs an import)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from . import __version__  # noqa: PLC0415

        print(f"{parser.prog} {__version__}")
        parser.exit()


def _add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", help="who is acting (default: $MODEL_REGISTRY_USER or your login)")
    parser.add_argument("--reason", default="", help="why, recorded in the registry's history")


def _add_retire_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replacement", help="when the champion leaves production: the version that takes over"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="let the champion leave production with no replacement (production is left empty)",
    )


def _add_serving_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """``export`` and ``serve``: the bridge from the registry to an HTTP server."""
    export = commands.add_parser(
        "export", help="write a version's verified model bundle (model files + provenance)"
    )
    export.add_argument(
        "model", nargs="?", default="@champion", help="version (1.2.0) or alias (@champion)"
    )
    export.add_argument(
        "--output", type=Path, default=None, help="bundle directory (default: build/model)"
    )
    serve = commands.add_parser(
        "serve", help="export a version and serve it over HTTP (PORT, default 8000)"
    )
    serve.add_argument(
        "model",
        nargs="?",
        default=None,
        help="version or alias to serve (default: $SERVING_MODEL or @champion)",
    )
    serve.add_argument("--host", default=None, help="address (default: $HOST or 127.0.0.1)")
    serve.add_argument("--port", default=None, help="port (default: $PORT or 8000)")

    deploy = commands.add_parser(
        "deploy",
        help="render a version's KServe manifests to build/deploy/<env>; apply them with kubectl",
    )
    deploy.add_argument("version", help="version (1.2.0) or alias (@champion, @challenger)")
    deploy.add_argument("--env", choices=["staging", "production"], default="production")
    deploy.add_argument(
        "--canary", metavar="PERCENT", help="production only: this version's share (1-99)"
    )
    deploy.add_argument(
        "--shadow",
        action="store_true",
        help="run the champion with this version beside it as a shadow (SHADOW_MODEL)",
    )
    deploy.add_argument("--image", help="image name without tag (default: $IMAGE)")
    deploy.add_argument("--by", help="who is deploying (default: $MODEL_REGISTRY_USER or login)")
    deploy.add_argument(
        "--render-only",
        action="store_true",
        help="render and write the manifests; never apply them",
    )
    deploy.add_argument(
        "--if-deployed",
        action="store_true",
        help="only redeploy an environment with a recorded deployment (for rollback)",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=__package__, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress and library warnings to stderr"
    )
    parser.add_argument(
        "--params", type=Path, default=None, help="parameters file (default: <project>/params.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "validate", help="check params.yaml (gates, dataset, model) before the pipeline runs"
    )
    pipeline = commands.add_parser(
        "pipeline", help="validate params.yaml, then rerun the stages DVC finds changed"
    )
    pipeline.add_argument("targets", nargs="*", help="stages to reproduce (default: all)")
    pipeline.add_argument("--force", action="store_true", help="rerun even unchanged stages")
    commands.add_parser("prepare", help="validate the data and write the train/test split")
    commands.add_parser("train", help="train the configured model and log the run to MLflow")
    commands.add_parser(
        "evaluate", help="score the model on held-out data; write metrics and plots"
    )
    register = commands.add_parser(
        "register", help="register the model (once per run); promote it through the gates"
    )
    register.add_argument("--version", help="pin the semantic version instead of deriving it")
    register.add_argument("--by", help="who is registering (default: your login)")
    predict = commands.add_parser(
        "predict", help="predict a CSV/Parquet file with a registered version"
    )
    predict.add_argument(
        "--model", default="@champion", help="version (1.2.0) or alias (@champion, @challenger)"
    )
    predict.add_argument(
        "--input", type=Path, required=True, help="CSV or Parquet file of feature rows"
    )

    _add_serving_commands(commands)
    for add_commands in COMMAND_MODULES:
        add_commands(commands, HANDLERS)
    models = commands.add_parser("models", help="inspect and manage the model registry")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="table of versions with stage and key metrics")
    info = actions.add_parser("info", help="JSON: metrics, lineage, tags, location, history")
    info.add_argument("version", help="version (1.2.0) or alias (@champion)")
    promote = actions.add_parser("promote", help="promote a version through the gates")
    promote.add_argument("version")
    promote.add_argument("--to", choices=["staging", "production"], required=True)
    _add_actor(promote)
    for name, text in (
        ("demote", "move a version one stage down"),
        ("archive", "retire a version (rollback no longer returns to it)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("version")
        _add_actor(action)
        _add_retire_options(action)
    rollback = actions.add_parser(
        "rollback", help="return production to the previous (or a given earlier) champion"
    )
    rollback.add_argument("version", nargs="?", default=None)
    _add_actor(rollback)
    compare = actions.add_parser("compare", help="metric table of two versions with deltas")
    compare.add_argument("first")
    compare.add_argument("second")
    actions.add_parser("history", help="who did what, when and why")
    drift = actions.add_parser(
        "drift", help="override the computed drift check by hand (needs --reason; audited)"
    )
    drift.add_argument("version")
    drift.add_argument("status", choices=["passed", "failed"])
    _add_actor(drift)
    gates = actions.add_parser(
        "gates", help="evaluate the gates for a version without promoting it (exit 3 if refused)"
    )
    gates.add_argument("version")
    gates.add_argument("--to", choices=["staging", "production"], default="production")
    return parser


#: The modules that add their own subcommands (and handlers) to the CLI, in help order.
COMMAND_MODULES: tuple[Registrar, ...] = (
    add_tune_commands,
    add_score_commands,
    add_drift_commands,
    add_retrain_commands,
    add_governance_commands,
    add_cluster_commands,
    add_rollout_commands,
)
HANDLERS: dict[str, Handler] = {
    "validate": _validate,
    "pipeline": _pipeline,
    "prepare": _prepare,
    "train": _train,
    "evaluate": _evaluate,
    "register": _register,
    "predict": _predict,
    "export": _export,
    "serve": _serve,
    "deploy": _deploy,
    "models": _models,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .config import load_params  # noqa: PLC0415 - pydantic: not for `--help`
    from .tracking import quiet  # noqa: PLC0415

    quiet(verbose=args.verbose)
    try:
        root = args.params.resolve().parent if args.params else find_project_root()
        paths = ProjectPaths(root)
        params = load_params(args.params or paths.params)
        return HANDLERS[args.command](args, params, paths)
    except GateFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_GATE_FAILED
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE_ERROR
    except KeyboardInterrupt:
        # Every command cleans up on its way out (staged outputs, workers); no traceback.
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
