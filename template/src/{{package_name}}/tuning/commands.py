"""``<package> tune``: run ``search:`` on its own, log it to MLflow, print the leaderboard.

The train stage searches too when ``search.method`` is set; ``tune`` is for
trying spaces without training, registering or touching DVC's outputs. It
ends with the best values as YAML to paste under ``model.params``.
"""

from __future__ import annotations

import argparse
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..commands import Handler, Subcommands
    from ..config import Params
    from ..paths import ProjectPaths
    from .search import SearchResult

#: Candidates the leaderboard shows (all are in MLflow).
LEADERBOARD_ROWS = 10


def add_tune_commands(commands: Subcommands, handlers: MutableMapping[str, Handler]) -> None:
    """Add ``tune`` to the CLI's subcommands and its handler to ``handlers``."""
    commands.add_parser(
        "tune",
        help="search model.params (search: in params.yaml) on the compute backend; log each "
        "candidate to MLflow; print the best (trains nothing)",
    )
    handlers["tune"] = _tune


def _tune(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    import mlflow  # noqa: PLC0415 - heavy imports only when tuning

    from .. import tracking  # noqa: PLC0415
    from ..pipeline.prepare import load_prepared  # noqa: PLC0415
    from .runs import log_search  # noqa: PLC0415
    from .search import run_search  # noqa: PLC0415

    features, target = load_prepared(params, paths, "train")
    result = run_search(params, features, target)
    tracking.configure(paths.root, params.tracking.experiment)
    with mlflow.start_run(run_name=f"tune-{result.method}"):
        mlflow.set_tags({"model.kind": params.model.kind, "task": params.task, "search": "tune"})
        log_search(result)
    print(leaderboard(result))
    print(f"\nbest: candidate {result.best.index}; in params.yaml:\nmodel:")
    print(f"  kind: {params.model.kind}\n  params:")
    for name, value in result.tuned(params.model).params.items():
        print(f"    {name}: {_yaml(value)}")
    return 0


def leaderboard(result: SearchResult) -> str:
    """The best candidates by mean ``metric`` (ties by candidate order), pruned ones last."""
    from ..config import HIGHER_IS_BETTER  # noqa: PLC0415
    from ..registry.report import table  # noqa: PLC0415

    metric = result.metric
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    complete = [candidate for candidate in result.candidates if not candidate.pruned]
    ranked = sorted(complete, key=lambda c: (-sign * c.mean(metric), c.index))
    ranked += [candidate for candidate in result.candidates if candidate.pruned]
    rows = [
        [
            candidate.index,
            f"{candidate.mean(metric):.4f}",
            f"{len(candidate.folds)}/{result.folds}" + (" pruned" if candidate.pruned else ""),
            ", ".join(f"{name}={_yaml(value)}" for name, value in candidate.params.items()),
        ]
        for candidate in ranked[:LEADERBOARD_ROWS]
    ]
    title = (
        f"{result.method} search, {len(result.candidates)} candidates x {result.folds} folds "
        f"on {result.backend}; cv {metric}:"
    )
    return f"{title}\n" + table(["candidate", f"cv {metric}", "folds", "values"], rows)


def _yaml(value: object) -> str:
    """A value as YAML writes it (``null``, ``true``), for pasting into params.yaml."""
    import yaml  # noqa: PLC0415

    text: str = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()
