"""Plain-text tables for ``models list`` and ``models compare``."""

from collections.abc import Sequence

from ..config import HIGHER_IS_BETTER
from .records import AuditEvent, VersionRecord


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces."""
    cells = [[str(value) for value in row] for row in [headers, *rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


def versions_table(records: Sequence[VersionRecord], metric_names: Sequence[str]) -> str:
    """One row per version: semver, stage, registration time, key metrics."""
    if not records:
        return "No versions registered yet; run `just pipeline`."
    rows = [
        [
            record.semver,
            record.version,
            record.stage,
            record.registered_at.strftime("%Y-%m-%d %H:%M:%S"),
            record.tags.get("model.kind", ""),
            *(
                f"{record.metrics[name]:.4f}" if name in record.metrics else "-"
                for name in metric_names
            ),
        ]
        for record in records
    ]
    return table(["version", "registry#", "stage", "registered (UTC)", "kind", *metric_names], rows)


def comparison_table(first: VersionRecord, second: VersionRecord) -> str:
    """Metric by metric: both values, the delta, and which version is better."""
    rows = []
    for name in sorted(set(first.metrics) | set(second.metrics)):
        a, b = first.metrics.get(name), second.metrics.get(name)
        if a is None or b is None:
            rows.append([name, a if a is not None else "-", b if b is not None else "-", "-", "-"])
            continue
        delta = b - a
        better = (
            "="
            if delta == 0
            else (
                second.semver if (delta > 0) == HIGHER_IS_BETTER.get(name, True) else first.semver
            )
        )
        rows.append([name, f"{a:.4f}", f"{b:.4f}", f"{delta:+.4f}", better])
    return table(["metric", first.semver, second.semver, "delta", "better"], rows)


def comparability_warnings(first: VersionRecord, second: VersionRecord) -> list[str]:
    """Why two versions' metrics may not be comparable (different data or split)."""
    warnings = []
    a, b = first.lineage.get("data_hash", ""), second.lineage.get("data_hash", "")
    if a != b:
        warnings.append(
            f"{first.semver} and {second.semver} were scored on different data or train/test "
            f"splits (data_hash {a[:12] or 'missing'}… vs {b[:12] or 'missing'}…); "
            "metric deltas mix model and data changes."
        )
    return warnings


def history_table(events: Sequence[AuditEvent]) -> str:
    """The audit trail, oldest first."""
    if not events:
        return "No registry events yet."
    rows = [
        [
            event.at,
            event.by,
            event.action,
            event.version,
            f"{event.from_stage or '-'} → {event.to_stage or '-'}",
            event.reason,
        ]
        for event in events
    ]
    return table(["when (UTC)", "who", "action", "version", "stage", "why"], rows)
