"""``<package> retrain [batch]``: the command that wires monitoring to the pipeline.

Like :mod:`.cli`, this module only routes. It gathers one window's facts —
the drift check of the batch (:mod:`.monitoring.check`), the champion's
score on it when the batch carries the target column, the champion's age,
``--force`` — and hands them to :func:`.monitoring.retrain.judge_and_retrain`
with the pipeline run it may need. That run is ``just pipeline --force``
(:mod:`.pipeline.runner`: DVC plans it and records it in ``dvc.lock``) with
one difference: the register stage leaves the new version in development,
so the promotion to staging is the retrain's own and the audit trail
records the retrain's reason. ``monitoring/`` never imports ``pipeline/``;
this module is where the two meet.

Everything a user can get wrong (the batch file, the flags) is checked
before the registry or the policy state is touched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DataValidationError, GateFailedError, ProjectError, RegistryError

if TYPE_CHECKING:
    import pandas as pd

    from .commands import Handler, Subcommands
    from .config import Params
    from .monitoring.observation import DriftWindow
    from .monitoring.retrain import RunPipeline
    from .paths import ProjectPaths
    from .registry.service import ModelRegistry


def add_retrain_commands(
    commands: Subcommands,
    handlers: MutableMapping[str, Handler],
) -> None:
    """Add ``retrain`` to the CLI's subcommands and its handler to ``handlers``."""
    retrain = commands.add_parser(
        "retrain",
        help="judge one monitoring window (a batch file); retrain and promote to staging "
        "when the retraining policy says so",
    )
    retrain.add_argument(
        "batch",
        nargs="?",
        type=Path,
        default=None,
        help="CSV/Parquet batch of recent rows: drift-checked, and scored when it has the target",
    )
    retrain.add_argument(
        "--force", action="store_true", help="retrain now (a business event); needs --reason"
    )
    retrain.add_argument("--reason", default="", help="why --force, recorded on the new version")
    retrain.add_argument("--by", help="who is acting (default: $MODEL_REGISTRY_USER or login)")
    retrain.add_argument(
        "--reset-state",
        action="store_true",
        help="forget the policy's windows, streaks and cooldown (versions are untouched)",
    )
    handlers["retrain"] = _retrain


def _retrain(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from .monitoring.metrics import (  # noqa: PLC0415
        PushgatewayError,
        export_window_metrics,
    )
    from .monitoring.observation import Observation  # noqa: PLC0415
    from .monitoring.retrain import judge_and_retrain, reset_state  # noqa: PLC0415
    from .registry.service import CHAMPION, MAX_REASON_LENGTH, ModelRegistry  # noqa: PLC0415

    _check_flags(args, MAX_REASON_LENGTH)
    registry = ModelRegistry(paths, params)
    if args.reset_state:
        reset_state(registry)
        print("retraining policy state reset: no windows, streaks or cooldown remembered")
        return 0
    champion = registry.by_alias(CHAMPION)
    performance, drift = None, None
    if args.batch is not None:
        frame = _read_batch(args.batch)
        if champion is not None:
            performance = _champion_score(registry, params, frame, args.batch)
        drift = _drift_window(params, paths, args.batch)
    observation = Observation(
        champion=champion.semver if champion else None,
        champion_registered_at=champion.registered_at if champion else None,
        drift=drift,
        performance=performance,
        forced=args.force,
        reason=args.reason,
    )
    outcome = judge_and_retrain(
        registry,
        observation,
        datetime.now(UTC),
        _pipeline_for_retraining(params, paths, args.by),
        by=args.by,
    )
    try:
        export_window_metrics(registry, champion, performance)
    except PushgatewayError as error:  # the decision is recorded; its outcome still counts
        print(f"warning: {error}", file=sys.stderr)
    if outcome.version is None:
        print(f"not retraining: {outcome.decision.summary}")
        return 0
    version = outcome.version
    print(f"retrained {params.registry.model_name} {version.semver}: {outcome.decision.summary}")
    if outcome.refused:
        raise GateFailedError(f"{version.semver} stays in {version.stage}: {outcome.refused}")
    print(f"{params.registry.model_name} {version.semver} is now in {version.stage}")
    return 0


def _check_flags(args: argparse.Namespace, max_reason: int) -> None:
    if args.reset_state and (args.force or args.batch is not None):
        raise RegistryError("--reset-state takes no batch and no --force; run it on its own.")
    if args.force and not args.reason.strip():
        raise RegistryError(
            'A forced retrain needs its reason: just retrain --force --reason "what happened".'
        )
    if args.reason and not args.force:
        raise RegistryError("--reason goes with --force (the policy explains its own triggers).")
    if len(args.reason) > max_reason:
        raise RegistryError(
            f"--reason is {len(args.reason)} characters; at most {max_reason} are kept."
        )


def _read_batch(path: Path) -> pd.DataFrame:
    from .data.batch import read_batch  # noqa: PLC0415 - pandas: not for `--help`

    return read_batch(path)


def _drift_window(params: Params, paths: ProjectPaths, batch: Path) -> DriftWindow:
    from .monitoring.check import run_drift_check  # noqa: PLC0415
    from .monitoring.observation import DriftWindow  # noqa: PLC0415

    return DriftWindow.from_report(run_drift_check(params, paths, batch).report)


def _champion_score(
    registry: ModelRegistry, params: Params, frame: pd.DataFrame, source: Path
) -> float | None:
    """The champion's ``retraining.performance.metric`` on a labelled batch (else ``None``)."""
    config = params.retraining.performance
    target = params.data.target
    if config is None or target not in frame.columns:
        return None
    import tempfile  # noqa: PLC0415

    from .data.batch import feature_frame  # noqa: PLC0415
    from .pipeline.metrics import evaluate  # noqa: PLC0415
    from .serving.bundle import open_bundle  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        _, bundle = registry.export("@champion", Path(tmp) / "bundle")
        model = open_bundle(bundle)
    try:
        features = feature_frame(frame, model.adapter.feature_names)
    except DataValidationError as exc:
        raise DataValidationError(f"{source}: {exc}") from None
    labels = frame[target]
    if labels.isna().any():
        raise DataValidationError(
            f"{source}: column {target!r} has empty labels; label every row or drop the column."
        )
    return evaluate(model.adapter.strategy, params.task, features, labels)[config.metric]


def _pipeline_for_retraining(params: Params, paths: ProjectPaths, by: str | None) -> RunPipeline:
    """``just pipeline --force``, with the new version left in development for the retrain."""

    def run() -> str:
        from .pipeline.evaluate import evaluate  # noqa: PLC0415
        from .pipeline.io import read_json  # noqa: PLC0415
        from .pipeline.prepare import prepare  # noqa: PLC0415
        from .pipeline.register import register  # noqa: PLC0415
        from .pipeline.runner import reproduce  # noqa: PLC0415
        from .pipeline.train import train  # noqa: PLC0415

        development = params.model_copy(
            update={"registry": params.registry.model_copy(update={"promote_to": "development"})}
        )
        stages: dict[str, Callable[[], object]] = {
            "prepare": lambda: prepare(params, paths),
            "train": lambda: train(params, paths),
            "evaluate": lambda: evaluate(params, paths),
            "register": lambda: register(development, paths, by=by),
        }

        def run_stage(name: str) -> int:
            try:
                stages[name]()
            except ProjectError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            return 0

        reproduce(str(paths.root), __package__, run_stage, targets=[], force=True)
        registration = read_json(paths.registration, produced_by="just register")
        return str(registration["version"])

    return run
