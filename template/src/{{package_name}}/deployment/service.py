"""``deploy``: resolve a version, check it may run there, render, apply, record.

Everything that can refuse runs before anything is written: the version is
resolved in the registry, its environment checked (:mod:`.policy`), the image
named (:mod:`.image`), kubectl found and the manifests rendered by it in a
scratch folder (:mod:`.manifests`). Only then are the files written, applied
when kubectl has a cluster (:mod:`.kubectl`), and the deployment recorded
(:mod:`.output`). A failed apply leaves the previous record in place, so the
record always names the last deployment that went through.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ..config import Stage
from ..registry.audit import current_user
from ..registry.gates import GateResult
from ..registry.records import VersionRecord
from ..registry.stages import CHALLENGER, CHAMPION
from . import DeploymentError, image, kubectl, manifests, policy
from .output import DeployFolder, DeploymentRecord
from .policy import ENVIRONMENTS, Environment

FindCluster = Callable[[str], tuple[kubectl.Cluster | None, str]]


class Registry(Protocol):
    """What a deployment reads from the model registry."""

    name: str

    def get(self, ref: str) -> VersionRecord: ...  # noqa: D102
    def by_alias(self, alias: str) -> VersionRecord | None: ...  # noqa: D102
    def check(self, record: VersionRecord, stage: Stage) -> list[GateResult]: ...  # noqa: D102


@dataclass(frozen=True)
class DeployResult:
    """What a deployment did, for the command's output."""

    folder: DeployFolder
    record: DeploymentRecord | None
    model: str = ""
    #: Why nothing was applied (no current context, render only); empty if applied.
    not_applied: str = ""
    kubectl_output: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines: what runs where, where the files are, what to do next."""
        folder, record = self.folder, self.record
        if record is None:
            return [
                f"No {folder.environment} deployment is recorded in "
                f"{folder.shown(folder.directory)}; nothing to redeploy."
            ]
        share = (
            f"canary: {record.traffic_percent}% of the traffic, the previous ready revision "
            f"keeps {manifests.FULL_TRAFFIC - record.traffic_percent}%"
            if record.canary
            else "100% of the traffic"
        )
        lines = [
            f"{self.model} {record.version} to {record.environment}: {record.image} ({share})",
            f"rendered: {record.manifests} (kustomization: {folder.shown(folder.kustomization)})",
        ]
        if record.applied:
            lines.append(f"applied with kubectl (context {record.kubectl_context}):")
            lines.extend(f"  {line}" for line in self.kubectl_output)
        else:
            lines.append(
                f"{self.not_applied}: manifests written to {record.manifests}; apply with "
                f"`kubectl apply -f {record.manifests}` (or `kubectl apply -k "
                f"{folder.shown(folder.directory)}`)"
            )
        lines.extend(f"note: {note}" for note in self.notes)
        return lines


def deploy(
    registry: Registry,
    ref: str,
    *,
    root: Path,
    environment: str,
    canary: str | None = None,
    repository: str | None = None,
    by: str | None = None,
    apply: bool = True,
    if_deployed: bool = False,
    find_cluster: FindCluster | None = None,
    shadow: bool = False,
) -> DeployResult:
    """Deploy version ``ref`` (``1.2.0``, ``@champion``) to ``environment``.

    ``if_deployed`` redeploys only where a deployment is already recorded
    (``just rollback`` uses it); ``apply=False`` renders and never applies;
    ``find_cluster`` replaces :func:`.kubectl.find_cluster` (tests). ``shadow``
    deploys the champion answering at full traffic with ``ref`` beside it as its
    shadow (see :func:`_shadow_plan`).

    Raises:
        DeploymentError: the version may not run there, an option is invalid, kubectl
            is missing or cannot render ``infra/``, or the apply failed.
        GateFailedError: a challenger canary fails a production gate.
        ModelNotFoundError: ``ref`` names no version.
    """
    env = _environment(environment)
    folder = DeployFolder(root, env)
    previous = folder.read_record()
    if if_deployed and previous is None:
        return DeployResult(folder, None)
    if shadow and canary:
        raise DeploymentError(
            "A shadow deployment sends the shadow no traffic of its own: give a canary percent "
            "or `shadow`, not both."
        )
    percent = policy.parse_canary(canary, env)
    repository = image.check_repository(repository)
    record = registry.get(ref)
    holders = policy.Holders(registry.by_alias(CHAMPION), registry.by_alias(CHALLENGER))
    if shadow:
        plan = _shadow_plan(record, env, repository, holders)
    else:
        policy.admit(record, env, percent, holders, lambda: registry.check(record, "production"))
        plan = manifests.Plan(env, record.semver, repository, image.tag_for(record), percent)
    kubectl_path = kubectl.locate()
    kustomization, rendered = manifests.render(plan, folder=folder, kubectl_path=kubectl_path)

    cluster, not_applied = (
        (find_cluster or kubectl.find_cluster)(kubectl_path) if apply else (None, "render only")
    )
    folder.write_manifests(kustomization, rendered)
    output = kubectl.apply(cluster, folder.manifests, cwd=root) if cluster else []
    deployed = DeploymentRecord(
        version=plan.version,
        environment=env,
        image=plan.image,
        traffic_percent=plan.traffic,
        canary=percent is not None,
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        deployed_by=by or current_user(),
        applied=cluster is not None,
        kubectl_context=cluster.context if cluster else None,
        manifests=folder.shown(folder.manifests),
        shadow=plan.shadow.version if plan.shadow else None,
    )
    folder.write_record(deployed)
    return DeployResult(
        folder,
        deployed,
        model=registry.name,
        not_applied=not_applied,
        kubectl_output=output,
        notes=_notes(deployed, previous, holders),
    )


def _shadow_plan(
    shadow: VersionRecord, environment: Environment, repository: str, holders: policy.Holders
) -> manifests.Plan:
    """The champion at full traffic, with ``shadow`` scoring the same rows beside it.

    A shadow changes no answer, so no gate stands in its way; it must only be a
    live version other than the champion (shadowing a version with itself
    measures nothing, an archived one is retired).

    Raises:
        DeploymentError: there is no champion to answer, or ``shadow`` is it or archived.
    """
    champion = holders.champion
    if champion is None:
        raise DeploymentError(
            f"Cannot shadow {shadow.semver}: no version is the champion to answer the requests "
            f"({holders.describe()}); promote one first: just models promote <version> production."
        )
    if shadow.semver == champion.semver or shadow.stage == "archived":
        why = "is the champion itself" if shadow.semver == champion.semver else "is archived"
        raise DeploymentError(
            f"Cannot shadow {shadow.semver}: it {why}; a shadow is another live version (the "
            f"challenger, say) scored beside the champion {champion.semver}."
        )
    return manifests.Plan(
        environment,
        champion.semver,
        repository,
        image.tag_for(champion),
        None,
        shadow=manifests.Shadow(shadow.semver, f"{repository}:{image.tag_for(shadow)}"),
    )


def _environment(name: str) -> Environment:
    for env in ENVIRONMENTS:
        if name == env:
            return env
    raise DeploymentError(
        f"Unknown environment {name!r}; deploy accepts: {', '.join(ENVIRONMENTS)}."
    )


def _notes(
    record: DeploymentRecord, previous: DeploymentRecord | None, holders: policy.Holders
) -> list[str]:
    if record.shadow:
        return [
            f"shadow: {record.shadow} scores every request's rows off the request path; its "
            "answers are never returned. Compare it in Prometheus (serving_shadow_agreement_total "
            "or serving_shadow_abs_difference), then deploy the champion alone to stop it: "
            f"just deploy {record.version}"
        ]
    if not record.canary:
        return []
    is_champion = holders.champion is not None and holders.champion.semver == record.version
    promote = (
        f"just deploy {record.version}"
        if is_champion
        else f"just models promote {record.version} production, then just deploy {record.version}"
    )
    notes = [f"promote the canary to all of the traffic with: {promote}"]
    if previous is None:
        notes.append(
            "no earlier production deployment is recorded here: with no previous ready "
            "revision, KServe sends all of the traffic to this one"
        )
    return notes
