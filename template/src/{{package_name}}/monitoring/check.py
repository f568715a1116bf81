"""``just drift``: check a batch against a registered version and record the outcome on it.

The batch is a CSV or Parquet file or a directory of Parquet files, counted
partition by partition on the compute backend (``compute:`` in params.yaml),
so its size is bounded by the disk, not by this process's memory. The
version's reference profile comes out of a verified export (every model
file matches its registration digests); the reports go to
``build/reports/drift/<batch hash>-<version>.{json,html}``; and the outcome,
with the batch's SHA-256 and the reports' paths (relative to the project),
becomes the version's ``drift_check`` tags and an audit event, which the
``require_drift_check`` gate reads. "Not enough data" records nothing: it
is no evidence either way.
"""

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..config import Params
from ..data.partitions import content_digest
from ..paths import ProjectPaths
from ..registry.service import MAX_REASON_LENGTH, ModelRegistry
from . import report_html
from .drift import DriftReport, detect_batch_drift
from .metrics import PushgatewayError, export_drift_metrics
from .profile import read_bundle_profile

#: Where the reports go, relative to the project root.
REPORTS_DIR = Path("build") / "reports" / "drift"
DEFAULT_VERSION = "@champion"
_HASH_CHARS = 12


@dataclass(frozen=True)
class DriftOutcome:
    """A finished check: the report, where it was written, and what the version now records."""

    report: DriftReport
    model: str
    version: str
    batch_sha256: str
    json_path: Path
    html_path: Path
    #: The ``drift_check`` status recorded on the version; None for "not enough data".
    recorded: Literal["passed", "failed"] | None
    #: Why the metrics reached only the local ``.prom`` file (an unreachable Pushgateway).
    metrics_warning: str | None = None


def run_drift_check(
    params: Params, paths: ProjectPaths, batch: Path, version: str | None = None
) -> DriftOutcome:
    """Compare ``batch`` (a CSV/Parquet file or a directory of Parquet files) with ``version``.

    ``version`` defaults to ``@champion``. The batch's hash covers a directory's
    Parquet files, names and bytes (:func:`..data.partitions.content_digest`).

    Raises:
        DataValidationError: the batch is unreadable or a partition does not fit the
            profile (the message names the partition).
        ModelNotFoundError: no such version, or it was trained without a profile.
        ProvenanceError: the version's files fail their digests.
        ComputeError: a counting task failed otherwise, or its worker died.
    """
    registry = ModelRegistry(paths, params)
    with tempfile.TemporaryDirectory() as scratch:
        record, bundle = registry.export(version or DEFAULT_VERSION, Path(scratch) / "bundle")
        profile, _ = read_bundle_profile(bundle)
    report = detect_batch_drift(profile, batch, params.drift, params.compute)
    digest = content_digest(batch)
    header = report_html.ReportHeader(
        model=registry.name,
        version=record.semver,
        batch=_shown_path(batch, paths.root),
        batch_sha256=digest,
        checked_at=datetime.now(tz=UTC).isoformat(timespec="seconds"),
    )
    json_path, html_path = _write_reports(paths.root, report, header)
    recorded: Literal["passed", "failed"] | None = None
    if report.verdict != "insufficient_data":
        recorded = "failed" if report.verdict == "drift" else "passed"
        reports = {
            "report": json_path.relative_to(paths.root).as_posix(),
            "report_html": html_path.relative_to(paths.root).as_posix(),
        }
        reason = f"computed: {report.headline()}; batch sha256 {digest[:_HASH_CHARS]}"
        registry.set_drift_status(
            record.semver,
            recorded,
            reason=reason[:MAX_REASON_LENGTH],
            evidence={
                "verdict": report.verdict,
                "batch_sha256": digest,
                "checked_at": header.checked_at,
                **reports,
            },
        )
    # The verdict is recorded by now; a Pushgateway that is down must not hide it
    # (a scheduler reads the exit status), so its failure travels as a warning.
    try:
        export_drift_metrics(report, model=registry.name, version=record.semver, root=paths.root)
        metrics_warning = None
    except PushgatewayError as error:
        metrics_warning = str(error)
    return DriftOutcome(
        report,
        registry.name,
        record.semver,
        digest,
        json_path,
        html_path,
        recorded,
        metrics_warning,
    )


def _write_reports(
    root: Path, report: DriftReport, header: report_html.ReportHeader
) -> tuple[Path, Path]:
    """Both reports, each written whole or not at all."""
    stem = f"{header.batch_sha256[:_HASH_CHARS]}-{header.version}"
    json_path = root / REPORTS_DIR / f"{stem}.json"
    html_path = json_path.with_suffix(".html")
    facts = {
        "model": header.model,
        "version": header.version,
        "batch": header.batch,
        "batch_sha256": header.batch_sha256,
        "checked_at": header.checked_at,
        "report_html": html_path.relative_to(root).as_posix(),
    }
    _write_atomically(
        json_path, json.dumps(facts | report.to_dict(), indent=2, sort_keys=True) + "\n"
    )
    _write_atomically(html_path, report_html.render(report, header))
    return json_path, html_path


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _shown_path(batch: Path, root: Path) -> str:
    """The batch as the report names it: relative to the project, or just its name."""
    resolved, project = batch.resolve(), root.resolve()
    if resolved.is_relative_to(project):
        return resolved.relative_to(project).as_posix()
    return batch.name
