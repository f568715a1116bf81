"""The template's releases: each version and the commit of this repository it was cut from.

Users update between these versions (``copier update -r <version>``); the
CHANGELOG has a ``## <version>`` entry for each. The replay tests
(``test_update_replay.py``) rebuild every release from this repository's own
history, generate projects from the most recent ones and update them to the
working tree, which they tag as :data:`NEXT_VERSION`.

Add a row when you tag a release (``just release`` prints it); never change a
row: projects in the wild record these versions in ``.copier-answers.yml``.
``python tests/releases.py`` prints ``<version> <commit>`` per line for
``just release-tags``.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import Version


@dataclass(frozen=True)
class Release:
    """One template release: a PEP 440 version, its commit, and what it brought."""

    version: str
    commit: str
    summary: str
    # The first release whose generated projects have `just update`.
    has_update_recipe: bool = True


RELEASES: tuple[Release, ...] = (
    Release(
        "0.1.0",
        "febf255e04a24b76b47df74d7accedca4e02eedc",
        "foundation and model lifecycle; no `just update` yet",
        has_update_recipe=False,
    ),
    Release(
        "0.2.0",
        "d079d6aa5046ca49fc97f08893e5796e7f094c90",
        "`just update` as one script recipe; weekly template-update workflow",
    ),
    Release(
        "0.3.0",
        "cc86c7bc62cae04842400e6006679f74a1eb97b2",
        "`just update` stops on conflicts listed by `update-conflicts`; version branches",
    ),
    Release(
        "0.4.0",
        "dfa20b8886c45dfeb7c7f2b3c96c2650b3a32b26",
        "conflict scan renamed `_update-conflicts`; `update-check` lists leftover conflicts",
    ),
)

# How many of the most recent releases the replay tests generate projects from.
REPLAYED = 3


def next_version() -> str:
    """The version the working tree is tested as: the next minor after the newest release."""
    newest = Version(RELEASES[-1].version)
    return f"{newest.major}.{newest.minor + 1}.0"


NEXT_VERSION = next_version()


def replayed() -> tuple[Release, ...]:
    """The releases the replay tests update from, oldest first."""
    return RELEASES[-REPLAYED:]


if __name__ == "__main__":
    for release in RELEASES:
        print(release.version, release.commit)
