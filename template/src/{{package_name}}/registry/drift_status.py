"""Recording a version's drift check, computed or overridden by hand, for the drift gate."""

from collections.abc import Mapping

from ..errors import RegistryError
from . import audit
from .records import DRIFT_TAG, VersionRecord
from .semver import SemVer
from .writing import RegistryWriter


class DriftStatus(RegistryWriter):
    """The drift check outcome the ``require_drift_check`` gate reads."""

    def set_drift_status(
        self,
        ref: str,
        status: str,
        *,
        by: str | None = None,
        reason: str = "",
        evidence: Mapping[str, str] | None = None,
    ) -> VersionRecord:
        """Record the outcome of a drift check (``passed`` or ``failed``) on a version.

        A computed check (``just drift``) passes its ``evidence`` (verdict,
        batch SHA-256, report path), stored as ``drift_check.<key>`` tags
        beside ``drift_check.source=computed``. Without evidence the status is
        a manual override of the computed check, so it must say why: the
        reason goes to the audit trail either way. The status tag is written
        last, so the ``require_drift_check`` gate never reads a status ahead
        of its evidence.

        Raises:
            RegistryError: not a version reference, unknown status, or no reason.
        """
        if not ref.startswith("@"):
            SemVer.parse(ref)  # the arguments are checked in the order they are given
        if status not in {"passed", "failed"}:
            raise RegistryError(f"Drift status must be passed or failed, got {status!r}.")
        if not reason.strip():
            raise RegistryError(
                "Setting a drift status by hand overrides the computed check and needs a "
                'reason: just models drift <version> passed|failed "why" (or run `just drift '
                "<batch> [version]` to compute it)."
            )
        audit.check_reason(reason)
        tags = {f"{DRIFT_TAG}.{key}": value for key, value in (evidence or {}).items()}
        tags[f"{DRIFT_TAG}.source"] = "computed" if evidence else "manual"
        tags[DRIFT_TAG] = status
        with self._locked():
            record = self.get(ref)
            for key, value in tags.items():
                self.store.set_version_tag(record.version, key, value)
            self._audit(
                audit.event(
                    f"drift-check-{status}",
                    record.semver,
                    from_stage=record.stage,
                    to_stage=record.stage,
                    by=by,
                    reason=reason,
                )
            )
            return self._checked(record.semver)
