"""Keep the project's own MLflow store pointing into this checkout after a move or a copy.

The local store (``mlflow.db``) records where artifacts live as absolute
``file://`` URIs, the form every stock MLflow client, the MLflow UI and the
serving platforms that pull ``models:/`` URIs can read. An absolute location
would follow a moved project to a folder that no longer exists, and a copied
one back to the original's files. So every command that opens the local store
first compares the artifact root recorded in it (the location of the
project's experiment, ``<root>/mlartifacts``) with the checkout it runs in;
when they differ, one SQLite transaction rewrites every stored location and
source path under the old root to the same place under the new one. A second
command racing the first finds nothing left to rewrite. Stores written by
releases that used the ``project:/mlartifacts`` scheme are rewritten the same
way, so an updated project becomes readable by stock MLflow on its first
command.

Only the standard library is used: reads of the registry stay fast and the
check costs one query when nothing moved.
"""

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import RegistryError

logger = logging.getLogger(__name__)

#: The store and the artifact folder, both inside the project root.
LOCAL_STORE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
#: Artifact URIs written by earlier releases, resolved by a plug-in stock MLflow lacks.
LEGACY_PREFIX = "project:/mlartifacts"
#: MLflow's default experiment keeps ``<cwd>/mlruns/0`` as its location.
_DEFAULT_EXPERIMENT_SUFFIX = "/mlruns/0"

#: Columns holding a location that MLflow resolves: rewritten by prefix.
_LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)
#: Columns that only describe where a run came from (entry-point path, dataset source):
#: rewritten anywhere in the text, so the copy keeps no path of the original.
_DESCRIPTIONS = (
    ("tags", "value"),
    ("logged_model_tags", "tag_value"),
    ("datasets", "dataset_source"),
)


@dataclass(frozen=True)
class Relocation:
    """What one relocation rewrote: the roots and how many values changed."""

    old_root: str
    new_root: str
    rewritten: int


def artifacts_uri(root: Path) -> str:
    """The ``file://`` URI of the project's artifact folder (the experiment's location)."""
    return (root.resolve() / ARTIFACTS_DIR).as_uri()


def relocate(root: Path) -> list[Relocation]:
    """Point every location in ``root``'s own store into ``root``; say what was rewritten.

    Nothing happens (and nothing is written) when the store is missing, not yet
    initialised by MLflow, or already points here.

    Raises:
        RegistryError: ``mlflow.db`` exists but is not a readable SQLite database.
    """
    database = root / LOCAL_STORE
    if not database.is_file() or database.stat().st_size == 0:
        return []
    here = root.resolve()
    try:
        with closing(sqlite3.connect(database, timeout=30, isolation_level=None)) as connection:
            if not _stale_roots(connection, here):
                return []
            connection.execute("BEGIN IMMEDIATE")  # one writer; a racing command waits here
            try:
                done = [_rewrite(connection, old, here) for old in _stale_roots(connection, here)]
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
    except sqlite3.DatabaseError as exc:
        raise RegistryError(
            f"{database} is not a readable MLflow store ({exc}); restore it from a backup, "
            f"or move it aside to start an empty registry."
        ) from None
    for relocation in done:
        was = (
            "used project:/ artifact URIs (an earlier release of the template)"
            if relocation.old_root == LEGACY_PREFIX
            else f"belonged to {relocation.old_root} (the project was moved or copied)"
        )
        logger.warning(
            "note: %s %s; rewrote %d locations to %s",
            LOCAL_STORE,
            was,
            relocation.rewritten,
            relocation.new_root,
        )
    return done


def _stale_roots(connection: sqlite3.Connection, here: Path) -> list[str]:
    """Recorded artifact roots that are not ``here``: ``file://`` prefixes or the legacy one."""
    if not _columns(connection, "experiments"):
        return []  # MLflow has not initialised this store yet
    stale = []
    for (location,) in connection.execute("SELECT artifact_location FROM experiments"):
        root = _recorded_root(str(location or ""))
        if root is not None and root not in stale and root != here.as_uri():
            stale.append(root)
    return stale


def _recorded_root(location: str) -> str | None:
    """The project root a stored experiment location belongs to, as it is stored."""
    if location == LEGACY_PREFIX:
        return LEGACY_PREFIX
    if location.startswith("file://") and location.endswith(f"/{ARTIFACTS_DIR}"):
        return location.removesuffix(f"/{ARTIFACTS_DIR}")
    return None


def _rewrite(connection: sqlite3.Connection, old: str, here: Path) -> Relocation:
    """Rewrite every value under the ``old`` root to the same place under ``here``."""
    if old == LEGACY_PREFIX:
        pairs = [(f"{old}/", f"{artifacts_uri(here)}/"), (old, artifacts_uri(here))]
        # The legacy scheme kept no root; MLflow's default experiment still names it.
        old_path = _default_experiment_root(connection)
    else:
        pairs = [(f"{old}/", f"{here.as_uri()}/")]
        old_path = unquote(urlparse(old).path)
    if old_path and Path(old_path) != here:
        pairs.append((f"{old_path}/", f"{here}/"))
    rewritten = 0
    for columns, anywhere in ((_LOCATIONS, False), (_DESCRIPTIONS, True)):
        for table, column in columns:
            if column in _columns(connection, table):
                for before, after in pairs:
                    rewritten += _replace(
                        connection, table, column, before, after, anywhere=anywhere
                    )
    return Relocation(old_root=old, new_root=here.as_uri(), rewritten=rewritten)


def _replace(
    connection: sqlite3.Connection,
    table: str,
    column: str,
    before: str,
    after: str,
    *,
    anywhere: bool,
) -> int:
    """Replace ``before`` by ``after`` in one column: as a prefix, or anywhere in the text."""
    if anywhere:
        return connection.execute(
            f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '  # noqa: S608  # nosec B608 - names are constants above
            f'WHERE instr("{column}", ?) > 0',
            (before, after, before),
        ).rowcount
    return connection.execute(
        f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '  # noqa: S608  # nosec B608 - names are constants above
        f'WHERE substr("{column}", 1, ?) = ?',
        (after, len(before) + 1, len(before), before),
    ).rowcount


def _default_experiment_root(connection: sqlite3.Connection) -> str | None:
    """The folder MLflow's default experiment was created in (``<root>/mlruns/0``)."""
    found = connection.execute("SELECT artifact_location FROM experiments WHERE experiment_id = 0")
    location = str((found.fetchone() or ("",))[0] or "")
    if location.startswith("/") and location.endswith(_DEFAULT_EXPERIMENT_SUFFIX):
        return location.removesuffix(_DEFAULT_EXPERIMENT_SUFFIX)
    return None


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    """Column names of ``table`` (empty when MLflow's schema has no such table)."""
    return {str(row[1]) for row in connection.execute(f'PRAGMA table_info("{table}")')}
