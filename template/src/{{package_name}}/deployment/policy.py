"""Which version may run in which environment, as pure rules over registry records.

The registry decides what a version *is* (its stage and aliases); a
deployment only carries that decision to a cluster, so each environment runs
what its stage holds:

- ``production`` runs the champion at full traffic. A canary (a share of the
  traffic, the rest staying on the previous ready revision) may also be the
  challenger, once it passes the production gates: trying it on real traffic
  is how a team decides to promote it.
- ``staging`` runs the challenger or the champion, always at full traffic.

Promoting a canary is deploying the same version with no percent, which
needs it to be the champion first: production's full traffic always matches
``@champion``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import GateFailedError
from ..registry.gates import GateResult
from ..registry.records import VersionRecord
from . import DeploymentError

Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("staging", "production")
MIN_CANARY, MAX_CANARY = 1, 99


@dataclass(frozen=True)
class Holders:
    """Who holds the aliases when the deployment is decided."""

    champion: VersionRecord | None
    challenger: VersionRecord | None

    def describe(self) -> str:
        """``@champion = 1.0.0, @challenger = 1.1.0`` (or ``none``)."""

        def show(record: VersionRecord | None) -> str:
            return record.semver if record else "none"

        return f"@champion = {show(self.champion)}, @challenger = {show(self.challenger)}"


def parse_canary(text: str | None, environment: Environment) -> int | None:
    """The canary percent from its command-line text, or ``None`` for a full rollout.

    Raises:
        DeploymentError: not a whole number from 1 to 99, or given for staging.
    """
    if text is None or text == "":
        return None
    if environment != "production":
        raise DeploymentError(
            f"A canary percent is only for production; {environment} runs one version at full "
            f'traffic. Deploy without a percent: just deploy <version> "" {environment}.'
        )
    if not (text.isascii() and text.isdigit()) or not MIN_CANARY <= int(text) <= MAX_CANARY:
        raise DeploymentError(
            f"Canary percent {text!r} is not accepted: use a whole number from {MIN_CANARY} to "
            f"{MAX_CANARY} (the share of production traffic for this version), or none for 100."
        )
    return int(text)


def admit(
    record: VersionRecord,
    environment: Environment,
    canary: int | None,
    holders: Holders,
    production_gates: Callable[[], list[GateResult]],
) -> None:
    """Refuse a deployment the registry's stages do not allow; gates only when they decide.

    Raises:
        DeploymentError: the version does not run in ``environment`` (as asked).
        GateFailedError: a challenger canary fails a production gate.
    """
    is_champion = _same(record, holders.champion)
    is_challenger = _same(record, holders.challenger)
    now = f"it is in {record.stage} ({holders.describe()})"
    if environment == "staging":
        if not (is_champion or is_challenger):
            raise DeploymentError(
                f"Cannot deploy {record.semver} to staging: {now}; staging runs the challenger or "
                f"the champion. Promote it first: just models promote {record.semver} staging."
            )
        return
    if canary is None:
        if not is_champion:
            hint = (
                f"or send it a share of the traffic first as a canary: just deploy "
                f"{record.semver} 10"
                if is_challenger
                else f"through the gates (just models gates {record.semver})"
            )
            raise DeploymentError(
                f"Cannot deploy {record.semver} to production: {now}; production runs the champion "
                f"at full traffic. Promote it first (just models promote {record.semver} "
                f"production), {hint}."
            )
        return
    if is_champion:
        return
    if not is_challenger:
        raise DeploymentError(
            f"Cannot deploy {record.semver} to production as a canary: {now}; a canary is the "
            "champion, or the challenger once it passes the production gates. Promote it "
            f"first: just models promote {record.semver} staging."
        )
    failed = [result for result in production_gates() if not result.passed]
    if failed:
        details = "; ".join(result.describe() for result in failed)
        raise GateFailedError(
            f"Canary of {record.semver} in production refused by {len(failed)} production "
            f"gate(s): {details}. Nothing was deployed."
        )


def _same(record: VersionRecord, holder: VersionRecord | None) -> bool:
    return holder is not None and holder.semver == record.semver
