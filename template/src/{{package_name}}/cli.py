"""Command-line interface: ``<package> <command> [options]``.

Every user-fixable failure is a :class:`~.errors.ProjectError`; the CLI prints
it as one ``error:`` line and exits with status 2 instead of a traceback.
"""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .config import load_params
from .errors import ProjectError
from .training.train import train

EXIT_USAGE_ERROR = 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=__package__, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train_parser = commands.add_parser(
        "train", help="train the configured model and write its metrics"
    )
    train_parser.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="parameters file"
    )
    train_parser.add_argument(
        "--model-dir", type=Path, default=Path("artifacts"), help="where the model is written"
    )
    train_parser.add_argument(
        "--metrics-dir", type=Path, default=Path("reports"), help="where metrics.json is written"
    )
    return parser


def _run_train(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    result = train(params, model_dir=args.model_dir, metrics_dir=args.metrics_dir)
    print(json.dumps(result.metrics, indent=2, sort_keys=True))
    print(f"model: {result.model_path}  metrics: {result.metrics_path}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handlers = {"train": _run_train}
    try:
        return handlers[args.command](args)
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE_ERROR
