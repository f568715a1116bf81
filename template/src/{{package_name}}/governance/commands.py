"""``<package> model-card <version>``: the model card on the command line.

Importing this module costs nothing; writing a card loads the registry and
MLflow (the training run's datasets and parameters) when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..commands import Handler, Subcommands
    from ..config import Params
    from ..paths import ProjectPaths


def add_governance_commands(
    commands: Subcommands,
    handlers: MutableMapping[str, Handler],
) -> None:
    """Add ``model-card`` to the CLI's subcommands and its handler to ``handlers``."""
    card = commands.add_parser(
        "model-card", help="write a version's model card (Markdown + HTML) to build/reports"
    )
    card.add_argument("version", help="version (1.2.0) or alias (@champion, @challenger)")
    handlers["model-card"] = _model_card


def _model_card(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from ..registry.service import ModelRegistry  # noqa: PLC0415 - MLflow loads here
    from .model_card import write_model_card  # noqa: PLC0415

    card = write_model_card(ModelRegistry(paths, params), args.version)
    written = " and ".join(
        path.relative_to(paths.root).as_posix() for path in (card.markdown, card.html)
    )
    print(f"model card of {params.registry.model_name} {card.version}: {written}")
    return 0
