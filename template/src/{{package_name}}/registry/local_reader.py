"""Fast reads of the project's own registry, straight from ``mlflow.db``.

Importing MLflow costs seconds, which is most of what ``models list``,
``info``, ``history``, ``compare`` and ``gates`` would spend. On the local
store they read the few registry tables they need with the standard
library instead, and ``predict`` finds where a version's files are (see
:mod:`.artifacts`); changes (and every server) still go through
:class:`~.store.RegistryStore`. If MLflow ever changes these tables, the
read fails with :class:`sqlite3.Error` and callers fall back to MLflow.
"""

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .records import SEMVER_TAG, STAGE_TAG, VersionRecord

_DELETED = "Deleted_Internal"


class LocalRegistryReader:
    """Read-only view of one registered model in a local SQLite store."""

    def __init__(self, database: Path, name: str) -> None:
        self.database = database
        self.name = name
        self.uri = f"sqlite:///{database}"

    def _query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        uri = f"{self.database.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as connection:
            return connection.execute(sql, args).fetchall()

    def versions(self) -> list[VersionRecord]:
        """Every version, oldest semantic version first."""
        rows = self._query(
            "SELECT version, creation_time, run_id FROM model_versions "
            "WHERE name = ? AND current_stage != ?",
            self.name,
            _DELETED,
        )
        tags: dict[int, dict[str, str]] = {}
        for number, key, value in self._query(
            "SELECT version, key, value FROM model_version_tags WHERE name = ?", self.name
        ):
            tags.setdefault(number, {})[key] = value
        records = [
            VersionRecord(
                version=str(number),
                semver=tags.get(number, {}).get(SEMVER_TAG, "0.0.0"),
                stage=tags.get(number, {}).get(STAGE_TAG, "development"),
                registered_at=datetime.fromtimestamp((created or 0) / 1000, tz=UTC),
                run_id=str(run_id),
                tags=tags.get(number, {}),
            )
            for number, created, run_id in rows
        ]
        return sorted(records, key=lambda record: record.sortable)

    def holder(self, alias: str) -> VersionRecord | None:
        """The version holding ``alias``, if any."""
        found = self._query(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
            self.name,
            alias,
        )
        if not found:
            return None
        number = str(found[0][0])
        return next((record for record in self.versions() if record.version == number), None)

    def model_tags(self) -> dict[str, str]:
        """Tags of the registered model (empty if it does not exist yet)."""
        rows = self._query("SELECT key, value FROM registered_model_tags WHERE name = ?", self.name)
        return {str(key): str(value) for key, value in rows}

    def model_location(self, number: str) -> dict[str, Any]:
        """Where a version's files live: its ``models:/`` URI, source and storage location."""
        rows = self._query(
            "SELECT source, storage_location FROM model_versions WHERE name = ? AND version = ?",
            self.name,
            int(number),
        )
        source, storage = rows[0] if rows else ("", "")
        return {
            "model_uri": f"models:/{self.name}/{number}",
            "source": source,
            "artifact_location": storage or source,
        }

    def run_artifact_uri(self, run_id: str) -> str:
        """Where a run's artifacts live (empty if the run is unknown)."""
        rows = self._query("SELECT artifact_uri FROM runs WHERE run_uuid = ?", run_id)
        return str(rows[0][0] or "") if rows else ""
