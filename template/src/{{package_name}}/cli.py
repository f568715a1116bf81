"""Command-line interface: ``<package> <command> [options]``.

Pipeline stages (``prepare``, ``train``, ``evaluate``, ``register``) are what
``dvc.yaml`` runs; ``models ...`` manages the registry; ``predict`` scores a
file with a registered version. Every user-fixable failure is a
:class:`~.errors.ProjectError`: the CLI prints it as one ``error:`` line and
exits with status 2 instead of a traceback.
"""

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from . import __version__
from .config import Params, load_params
from .errors import DataValidationError, ProjectError
from .paths import ProjectPaths, find_project_root

EXIT_USAGE_ERROR = 2
Handler = Callable[[argparse.Namespace, Params, ProjectPaths], int]


def _prepare(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .pipeline.prepare import prepare  # noqa: PLC0415 - keep `--help` fast

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
    from .pipeline.register import register  # noqa: PLC0415

    result = register(params, paths, pinned=args.version, by=args.by)
    print(
        f"registered {params.registry.model_name} {result.version} ({result.bump}); "
        f"stage: {result.stage}"
    )
    for refusal in result.refused:
        print(f"not promoted: {refusal}", file=sys.stderr)
    return 0


def _predict(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .registry.service import ModelRegistry  # noqa: PLC0415

    source: Path = args.input
    if not source.is_file():
        raise DataValidationError(
            f"Input file {source} not found; pass a CSV or Parquet file of feature rows."
        )
    frame = pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source)
    frame = frame.drop(columns=[params.data.target], errors="ignore")
    model, record = ModelRegistry(paths, params).load(args.model)
    predictions = model.predict(frame)["prediction"].tolist()
    print(json.dumps({"version": record.semver, "predictions": predictions}))
    return 0


def _models(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from .registry import report  # noqa: PLC0415
    from .registry.service import ModelRegistry  # noqa: PLC0415

    registry = ModelRegistry(paths, params)
    action = args.action
    if action == "list":
        metric = params.gates.primary_metric
        names = [
            metric,
            *sorted({key.split("_", 1)[1] for key in params.gates.thresholds()} - {metric}),
        ]
        print(report.versions_table(registry.versions(), names))
    elif action == "info":
        record = registry.get(args.version)
        info = record.summary() | {
            "history": [e.__dict__ for e in registry.history() if e.version == record.semver]
        }
        print(json.dumps(info, indent=2, sort_keys=True))
    elif action == "compare":
        print(report.comparison_table(registry.get(args.first), registry.get(args.second)))
    elif action == "history":
        print(report.history_table(registry.history()))
    elif action == "drift":
        record = registry.set_drift_status(args.version, args.status, by=args.by)
        print(f"{params.registry.model_name} {record.semver}: drift check {args.status}")
    elif action == "gates":
        record = registry.get(args.version)
        for result in registry.check(record, args.to):
            print(result.describe())
    else:
        operations = {
            "promote": lambda: registry.promote(
                args.version, args.to, by=args.by, reason=args.reason
            ),
            "demote": lambda: registry.demote(args.version, by=args.by, reason=args.reason),
            "archive": lambda: registry.archive(args.version, by=args.by, reason=args.reason),
            "rollback": lambda: registry.rollback(args.version, by=args.by, reason=args.reason),
        }
        record = operations[action]()
        print(f"{params.registry.model_name} {record.semver} is now in {record.stage}")
    return 0


def _add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", help="who is acting (default: $MODEL_REGISTRY_USER or your login)")
    parser.add_argument("--reason", default="", help="why, recorded in the registry's history")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=__package__, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument(
        "--params", type=Path, default=None, help="parameters file (default: <project>/params.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("prepare", help="validate the data and write the train/test split")
    commands.add_parser("train", help="train the configured model and log the run to MLflow")
    commands.add_parser(
        "evaluate", help="score the model on held-out data; write metrics and plots"
    )
    register = commands.add_parser(
        "register", help="register the model; promote it through the gates"
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

    models = commands.add_parser("models", help="inspect and manage the model registry")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="table of versions with stage and key metrics")
    info = actions.add_parser("info", help="JSON: metrics, params, lineage, tags, history")
    info.add_argument("version", help="version (1.2.0) or alias (@champion)")
    promote = actions.add_parser("promote", help="promote a version through the gates")
    promote.add_argument("version")
    promote.add_argument("--to", choices=["staging", "production"], required=True)
    _add_actor(promote)
    for name, text in (
        ("demote", "move a version one stage down"),
        ("archive", "retire a version"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("version")
        _add_actor(action)
    rollback = actions.add_parser(
        "rollback", help="put the previous (or given) version back in production"
    )
    rollback.add_argument("version", nargs="?", default=None)
    _add_actor(rollback)
    compare = actions.add_parser("compare", help="metric table of two versions with deltas")
    compare.add_argument("first")
    compare.add_argument("second")
    actions.add_parser("history", help="who did what, when and why")
    drift = actions.add_parser(
        "drift", help="record a drift check outcome (read by require_drift_check)"
    )
    drift.add_argument("version")
    drift.add_argument("status", choices=["passed", "failed"])
    drift.add_argument("--by", help="who ran the check (default: your login)")
    gates = actions.add_parser(
        "gates", help="evaluate the gates for a version without promoting it"
    )
    gates.add_argument("version")
    gates.add_argument("--to", choices=["staging", "production"], default="production")
    return parser


HANDLERS: dict[str, Handler] = {
    "prepare": _prepare,
    "train": _train,
    "evaluate": _evaluate,
    "register": _register,
    "predict": _predict,
    "models": _models,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        root = args.params.resolve().parent if args.params else find_project_root()
        paths = ProjectPaths(root)
        params = load_params(args.params or paths.params)
        return HANDLERS[args.command](args, params, paths)
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE_ERROR
