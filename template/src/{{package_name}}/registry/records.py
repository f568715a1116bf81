"""Read-only views of registry entries, decoded from MLflow tags."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .semver import Fingerprint, SemVer

SEMVER_TAG = "semver"
STAGE_TAG = "stage"
DRIFT_TAG = "drift_check"
PROVENANCE_DIGEST_TAG = "provenance.sha256"
PROVENANCE_PATH_TAG = "provenance.path"
AUDIT_PREFIX = "audit."


@dataclass(frozen=True)
class VersionRecord:
    """One registered model version as the lifecycle sees it."""

    version: str
    semver: str
    stage: str
    registered_at: datetime
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_mlflow(cls, model_version: Any) -> "VersionRecord":
        """Decode an MLflow ``ModelVersion``."""
        tags = dict(model_version.tags or {})
        return cls(
            version=str(model_version.version),
            semver=tags.get(SEMVER_TAG, "0.0.0"),
            stage=tags.get(STAGE_TAG, "development"),
            registered_at=datetime.fromtimestamp(model_version.creation_timestamp / 1000, tz=UTC),
            run_id=str(model_version.run_id),
            tags=tags,
        )

    @property
    def sortable(self) -> SemVer:
        """Semantic version, for ordering."""
        return SemVer.parse(self.semver)

    @property
    def metrics(self) -> dict[str, float]:
        """Held-out metrics recorded at registration."""
        return {
            key[7:]: float(value) for key, value in self.tags.items() if key.startswith("metric.")
        }

    @property
    def lineage(self) -> dict[str, str]:
        """Git SHA, dirty flag, data and params hashes, template version."""
        return {key[8:]: value for key, value in self.tags.items() if key.startswith("lineage.")}

    @property
    def fingerprint(self) -> Fingerprint:
        """Contract and configuration, for the semver rules."""
        return Fingerprint(
            signature_hash=self.tags.get("model.signature_hash", ""),
            model_kind=self.tags.get("model.kind", ""),
            params_hash=self.tags.get("model.params_hash", ""),
        )

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description for ``models info``."""
        return {
            "version": self.semver,
            "registry_version": self.version,
            "stage": self.stage,
            "registered_at": self.registered_at.isoformat(timespec="seconds"),
            "run_id": self.run_id,
            "model_kind": self.tags.get("model.kind"),
            "metrics": self.metrics,
            "lineage": self.lineage,
            "tags": self.tags,
        }


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to which version, when and why."""

    at: str
    by: str
    action: str
    version: str
    from_stage: str | None
    to_stage: str | None
    reason: str

    def to_tag_value(self) -> str:
        """Serialise for a registered-model tag."""
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_tag_value(cls, value: str) -> "AuditEvent":
        """Deserialise a registered-model tag."""
        return cls(**json.loads(value))
