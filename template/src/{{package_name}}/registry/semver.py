"""Semantic versions for models, derived from what changed.

Every new version is compared with the latest one (the highest version
number), whether or not anything is in production, so one MAJOR line always
has one input/output contract (2.0.1 never differs from 2.0.0 in what callers
send or receive):

- MAJOR: the input/output signature differs (callers must change).
- MINOR: same signature, but the model kind or its hyper-parameters differ
  (a different model, same contract).
- PATCH: same signature and configuration, retrained (new data or code).
"""

import re
from dataclasses import dataclass
from typing import Literal, Self

from ..errors import RegistryError

Bump = Literal["major", "minor", "patch"]
_PATTERN = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
FIRST_VERSION = "1.0.0"


@dataclass(frozen=True, order=True)
class SemVer:
    """A ``MAJOR.MINOR.PATCH`` version; ordering is numeric."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse ``1.2.3`` (a leading ``v`` is accepted).

        Raises:
            RegistryError: ``text`` is not MAJOR.MINOR.PATCH.
        """
        match = _PATTERN.match(text.strip().removeprefix("v"))
        if match is None:
            raise RegistryError(
                f"{text!r} is not a semantic version; use MAJOR.MINOR.PATCH, e.g. 1.4.0."
            )
        return cls(*(int(part) for part in match.groups()))

    def bump(self, part: Bump) -> "SemVer":
        """The next version after bumping ``part``."""
        if part == "major":
            return SemVer(self.major + 1, 0, 0)
        if part == "minor":
            return SemVer(self.major, self.minor + 1, 0)
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Fingerprint:
    """What decides the bump: the contract and the configuration of a model."""

    signature_hash: str
    model_kind: str
    params_hash: str


def bump_kind(candidate: Fingerprint, latest: Fingerprint) -> Bump:
    """Which part to bump for ``candidate`` given the latest version's fingerprint."""
    if candidate.signature_hash != latest.signature_hash:
        return "major"
    if candidate.model_kind != latest.model_kind or candidate.params_hash != latest.params_hash:
        return "minor"
    return "patch"


def next_version(
    candidate: Fingerprint, existing: list[SemVer], latest: Fingerprint | None
) -> tuple[SemVer, Bump | None]:
    """The version to register ``candidate`` under, and the bump that produced it.

    ``latest`` is the fingerprint of the highest version in ``existing``.
    """
    if not existing or latest is None:
        return SemVer.parse(FIRST_VERSION), None
    part = bump_kind(candidate, latest)
    return max(existing).bump(part), part
