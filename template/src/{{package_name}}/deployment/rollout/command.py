"""``<package> rollout <version>``: the canary rollout on the command line.

Everything that can refuse runs before the first change: the environment,
``PROMETHEUS_URL`` (and that Prometheus answers), the image name, kubectl,
the version and whether production may run it as a canary (the same rules
and gates as ``just deploy``). A rollout then changes traffic only through
the deploy code (:func:`..service.deploy`, rendered and applied by kubectl),
moves the version only through the registry (``promote`` and its gates),
and records every step, verdict and action in the audit trail, in
``build/rollout/<version>.json`` and in the version's model card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...commands import Handler, Subcommands
    from ...config import Params
    from ...paths import ProjectPaths
    from ...registry.records import VersionRecord
    from ...registry.service import ModelRegistry
    from .measure import PrometheusSource

#: Exit statuses besides 0 (promoted): rolled back on a violated objective, inconclusive.
EXIT_ROLLED_BACK = 1
EXIT_INCONCLUSIVE = 4
REPORT_DIR = Path("build") / "rollout"


def add_rollout_commands(commands: Subcommands, handlers: MutableMapping[str, Handler]) -> None:
    """Add ``rollout`` to the CLI's subcommands and its handler to ``handlers``."""
    rollout = commands.add_parser(
        "rollout",
        help="step a canary through production traffic, judged against Prometheus at every "
        "step: roll it back, or promote it through the gates",
    )
    rollout.add_argument("version", help="version (1.2.0) or alias (@challenger)")
    rollout.add_argument("--env", default="production", help="only production runs canaries")
    rollout.add_argument("--image", help="image name without tag (default: $IMAGE)")
    rollout.add_argument("--by", help="who is rolling out (default: $MODEL_REGISTRY_USER or login)")
    handlers["rollout"] = _rollout


def _rollout(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    from ...errors import ProjectError  # noqa: PLC0415
    from ...registry.service import ModelRegistry  # noqa: PLC0415 - MLflow loads here
    from .walker import RolloutInterrupted, walk  # noqa: PLC0415

    registry = ModelRegistry(paths, params)
    actions, source = prepare(
        registry,
        params,
        paths,
        args.version,
        environment=args.env,
        repository=args.image or os.environ.get("IMAGE"),
        by=args.by,
        prometheus_url=os.environ.get("PROMETHEUS_URL"),
    )
    config = params.rollout
    actions.record(
        "rollout-started",
        f"canary {actions.canary.semver} against stable {actions.stable.semver}: steps "
        f"{config.steps}, wait {config.wait_seconds:g} s, min_requests {config.min_requests}, "
        f"objectives {config.objectives.model_dump()}, Prometheus {source.prometheus.url}",
    )
    try:
        result = walk(config, source, actions)
    except (RolloutInterrupted, ProjectError) as stop:
        # Recorded by the walker; say where the canary was left and what to do.
        actions.finish("interrupted")
        where, share = "by an error", "its share"
        if isinstance(stop, RolloutInterrupted):
            where, share = f"at step {stop.step}", f"{stop.percent}%"
        print(
            f"rollout of {actions.canary.semver} stopped {where}: the canary keeps {share} "
            f"of production traffic (recorded in the audit trail and {actions.report_path}). "
            f"Run `just rollout {actions.canary.semver}` again to restart the analysis, or "
            f"`just deploy {actions.stable.semver}` to send all of the traffic back to the "
            "stable version.",
            file=sys.stderr,
        )
        raise
    actions.finish(result.status)
    print(f"rollout of {actions.canary.semver}: {result.status}: {result.summary}")
    if result.status == "promoted":
        return 0
    return EXIT_ROLLED_BACK if result.status == "rolled-back" else EXIT_INCONCLUSIVE


def prepare(
    registry: ModelRegistry,
    params: Params,
    paths: ProjectPaths,
    ref: str,
    *,
    environment: str,
    repository: str | None,
    by: str | None,
    prometheus_url: str | None,
) -> tuple[RegistryActions, PrometheusSource]:
    """Check everything a rollout needs, in order, changing nothing.

    Raises:
        RolloutError: not production, no champion to compare with, the version is the
            champion, or Prometheus is unset, malformed or does not answer.
        DeploymentError: production may not run the version as a canary, or no kubectl.
        GateFailedError: the challenger fails a production gate.
        ModelNotFoundError: ``ref`` names no version.
    """
    from ...registry.stages import CHALLENGER, CHAMPION  # noqa: PLC0415
    from .. import image, kubectl, policy  # noqa: PLC0415
    from . import RolloutError, measure  # noqa: PLC0415
    from .prometheus import Prometheus  # noqa: PLC0415

    if environment != "production":
        raise RolloutError(
            f"Cannot roll out to {environment!r}: canaries run in production only (staging "
            'runs one version at full traffic: just deploy <version> "" staging).'
        )
    prometheus = Prometheus(prometheus_url)
    repository = image.check_repository(repository)
    record = registry.get(ref)
    holders = policy.Holders(registry.by_alias(CHAMPION), registry.by_alias(CHALLENGER))
    stable = holders.champion
    if stable is None:
        raise RolloutError(
            f"No champion in production to compare {record.semver} with: a rollout judges a "
            "canary against the stable version. Promote and deploy a first version instead "
            f"(just models promote {record.semver} production; just deploy {record.semver})."
        )
    if stable.semver == record.semver:
        raise RolloutError(
            f"{record.semver} is already the champion: nothing to roll out (to redeploy it at "
            f"full traffic: just deploy {record.semver})."
        )
    first = params.rollout.steps[0]
    policy.admit(record, "production", first, holders, lambda: registry.check(record, "production"))
    kubectl.locate()
    source = measure.PrometheusSource(
        prometheus,
        task=params.task,
        selector=params.rollout.selector,
        stable=stable.semver,
        canary=record.semver,
    )
    source.check()
    return RegistryActions(registry, paths.root, record, stable, repository, by), source


@dataclass
class RegistryActions:
    """The walker's actions on this project: deploy, registry, audit trail, report."""

    registry: ModelRegistry
    root: Path
    canary: VersionRecord
    stable: VersionRecord
    repository: str
    by: str | None
    events: list[dict[str, str]] = field(default_factory=list)

    @property
    def report_path(self) -> str:
        """``build/rollout/<version>.json``, relative to the project."""
        return (REPORT_DIR / f"{self.canary.semver}.json").as_posix()

    def set_traffic(self, percent: int) -> None:
        """Deploy the canary at ``percent`` of production traffic."""
        self._deploy(self.canary.semver, str(percent))

    def roll_back(self) -> None:
        """Canary to 0%: the stable version (still the champion) at full traffic."""
        self._deploy(self.stable.semver, None)

    def promote(self) -> str | None:
        """Promote through the production gates, then deploy to all of the traffic.

        Returns why the gates refused it (nothing changed then), or ``None``.
        """
        from ...errors import GateFailedError  # noqa: PLC0415

        try:
            self.registry.promote(
                self.canary.semver,
                "production",
                by=self.by,
                reason=f"canary analysis passed every step ({self.report_path})",
            )
        except GateFailedError as exc:
            return str(exc)
        self._deploy(self.canary.semver, None)
        return None

    def record(self, action: str, detail: str) -> None:
        """One event: the audit trail, the report file, and a line on stdout."""
        self.registry.record_rollout(self.canary.semver, action, detail, by=self.by)
        at = datetime.now(UTC).isoformat(timespec="seconds")
        self.events.append({"at": at, "action": action, "detail": detail})
        self._write_report("running")
        print(f"{action}: {detail.split('; queries: ', 1)[0]}", flush=True)

    def finish(self, status: str) -> None:
        """Write the report's final status and refresh the version's model card."""
        from ...errors import ProjectError  # noqa: PLC0415
        from ...governance.model_card import write_model_card  # noqa: PLC0415

        self._write_report(status)
        try:
            card = write_model_card(self.registry, self.canary.semver)
        except ProjectError as exc:
            print(f"note: model card not refreshed: {exc}", file=sys.stderr)
            return
        print(f"model card: {card.markdown.relative_to(self.root).as_posix()}")

    def _deploy(self, version: str, canary: str | None) -> None:
        from ..service import deploy  # noqa: PLC0415

        result = deploy(
            self.registry,
            version,
            root=self.root,
            environment="production",
            canary=canary,
            repository=self.repository,
            by=self.by,
        )
        lines = result.lines()
        print("\n".join(f"  {line}" for line in (lines[0], *lines[2:3])), flush=True)

    def _write_report(self, status: str) -> None:
        path = self.root / self.report_path
        path.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "version": self.canary.semver,
            "stable": self.stable.semver,
            "status": status,
            "events": self.events,
        }
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
