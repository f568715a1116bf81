"""Stage rules as data: which moves are allowed and what each move implies.

Pure functions over stage names, with no MLflow in sight, so the whole table
is easy to read and to test. ``production`` is held by exactly one version,
which carries the ``champion`` alias; ``staging`` by at most one, which
carries ``challenger``. A version entering an occupied stage displaces the
holder: a displaced champion is archived (rollback can still return to it),
a displaced challenger goes back to development.
"""

from dataclasses import dataclass
from typing import cast, get_args

from ..config import Stage
from ..errors import RegistryError
from .records import VersionRecord

CHAMPION = "champion"
CHALLENGER = "challenger"
#: The alias each single-holder stage carries.
STAGE_ALIAS: dict[Stage, str] = {"production": CHAMPION, "staging": CHALLENGER}
#: Where a version pushed out of a single-holder stage goes.
DISPLACED_TO: dict[Stage, Stage] = {"production": "archived", "staging": "development"}
#: Stages a version may be promoted from, per target stage.
PROMOTABLE_FROM: dict[Stage, frozenset[Stage]] = {
    "staging": frozenset({"development", "archived"}),
    "production": frozenset({"development", "staging", "archived"}),
}
#: One step down for ``demote``.
DEMOTED_TO: dict[Stage, Stage] = {"production": "staging", "staging": "development"}


@dataclass(frozen=True)
class Move:
    """One version changing stage as part of an operation."""

    version: str
    from_stage: Stage
    to_stage: Stage
    action: str


def stage_of(record: VersionRecord) -> Stage:
    """The stage ``record``'s tag names.

    Raises:
        RegistryError: the tag names no stage (edited by hand, or by another tool).
    """
    if record.stage not in get_args(Stage):
        raise RegistryError(f"Version {record.semver} has an unknown stage tag {record.stage!r}.")
    return cast("Stage", record.stage)


def promotion_target(stage: Stage, to: str) -> Stage:
    """Validate a promotion from ``stage`` to ``to``; return ``to`` as a stage.

    Raises:
        RegistryError: ``to`` is not a promotion target or the version cannot go there.
    """
    if to not in PROMOTABLE_FROM:
        raise RegistryError(f"Cannot promote to {to!r}; promote accepts: staging, production.")
    target: Stage = "staging" if to == "staging" else "production"
    if stage == target:
        raise RegistryError(f"it is already in {target}")
    if stage not in PROMOTABLE_FROM[target]:
        raise RegistryError(f"it is in {stage}; use demote to move it down")
    return target


def demotion_target(stage: Stage) -> Stage:
    """Where ``demote`` takes a version in ``stage``.

    Raises:
        RegistryError: only production and staging can be demoted.
    """
    if stage not in DEMOTED_TO:
        raise RegistryError(f"it is in {stage}; only production or staging can be demoted")
    return DEMOTED_TO[stage]


def moves(
    action: str,
    version: str,
    from_stage: Stage,
    to_stage: Stage,
    holders: dict[Stage, str | None],
) -> list[Move]:
    """Every stage change that moving ``version`` to ``to_stage`` implies, displacements first.

    ``holders`` maps ``production`` and ``staging`` to the version holding each now.
    """
    planned: list[Move] = []
    holder = holders.get(to_stage) if to_stage in STAGE_ALIAS else None
    if holder is not None and holder != version:
        planned.append(Move(holder, to_stage, DISPLACED_TO[to_stage], "displace"))
    planned.append(Move(version, from_stage, to_stage, action))
    return planned


def aliases_after(stages: dict[str, Stage]) -> dict[str, str | None]:
    """The version each alias must point at for the given stages (``None``: no holder)."""
    result: dict[str, str | None] = {}
    for stage, alias in STAGE_ALIAS.items():
        holding = sorted(version for version, current in stages.items() if current == stage)
        if len(holding) > 1:
            raise RegistryError(f"{', '.join(holding)} are all in {stage}; only one may be.")
        result[alias] = holding[0] if holding else None
    return result
