"""The model card of one registered version, from the registry and ``model-card.yaml``.

Everything factual comes from the registry at the moment the card is
written: held-out metrics beside the gates for production (threshold and
value), the training data and its hashes, lineage, the latest drift
outcome, its canary rollouts and its audit trail. Intended use and limitations come
from the user-owned narrative file. The card is written as Markdown and as
one self-contained HTML page under ``build/reports/``, each atomically.
"""

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..config import Stage
from ..registry.audit import ROLLOUT_ACTIONS
from ..registry.gates import GateResult
from ..registry.records import DRIFT_TAG, AuditEvent, VersionRecord
from ..registry.service import ModelRegistry
from .document import Document, Section, Table, to_html, to_markdown
from .narrative import Narrative, load_narrative
from .training_run import TrainingRun, read_training_run

#: Where cards go, relative to the project root: beside the drift reports.
CARD_DIR = Path("build") / "reports"
#: The stage whose gates the card shows: the bar a version must clear to be served.
GATE_STAGE: Stage = "production"
#: Registry tags a drift check writes: its verdict (``drift_check``) and details (``drift.*``).
_DRIFT_EVENTS = ("drift-check-passed", "drift-check-failed")


@dataclass(frozen=True)
class CardFiles:
    """The two renderings of one card."""

    version: str
    markdown: Path
    html: Path


def card_paths(root: Path, semver: str) -> tuple[Path, Path]:
    """Where the Markdown and HTML card of ``semver`` are written."""
    folder = root / CARD_DIR
    return folder / f"model-card-{semver}.md", folder / f"model-card-{semver}.html"


def write_model_card(registry: ModelRegistry, ref: str) -> CardFiles:
    """Write the card of ``ref`` (``1.2.0``, ``@champion``) as Markdown and HTML.

    Raises:
        ModelNotFoundError: no version matches ``ref``, or its training run is gone.
        ConfigError: ``model-card.yaml`` is missing or invalid.
    """
    record = registry.get(ref)
    narrative = load_narrative(registry.paths.root)
    registry.store  # noqa: B018 - points MLflow at the registry's tracking store for the run
    gate_results = registry.check(record, GATE_STAGE)
    history = [event for event in registry.history() if event.version == record.semver]
    document = build_card(
        registry.name,
        record,
        narrative=narrative,
        gates=gate_results,
        history=history,
        training=read_training_run(record.run_id),
    )
    markdown, page = card_paths(registry.paths.root, record.semver)
    _write_atomically(markdown, to_markdown(document))
    _write_atomically(page, to_html(document))
    return CardFiles(record.semver, markdown, page)


def build_card(
    model_name: str,
    record: VersionRecord,
    *,
    narrative: Narrative,
    gates: Sequence[GateResult],
    history: Sequence[AuditEvent],
    training: TrainingRun,
) -> Document:
    """The card's content, independent of its format."""
    written = datetime.now(tz=UTC).isoformat(timespec="seconds")
    return Document(
        title=f"Model card: {model_name} {record.semver}",
        subtitle=(
            f"Stage {record.stage}; registered {record.registered_at.isoformat(timespec='seconds')}"
            f"; written {written} from the model registry."
        ),
        sections=[
            section
            for section in (
                Section("Overview", paragraphs=[narrative.overview]),
                Section("Intended use", items=narrative.intended_use),
                Section("Out of scope", items=narrative.out_of_scope),
                Section("Limitations", items=narrative.limitations),
                Section("Ethical considerations", items=narrative.ethical_considerations),
                _model_section(record, training),
                _metrics_section(record, gates),
                _data_section(record, training),
                _lineage_section(record),
                _drift_section(record, history),
                _rollout_section(history),
                _history_section(
                    [event for event in history if event.action not in ROLLOUT_ACTIONS]
                ),
                Section("Contact", paragraphs=[narrative.contact] if narrative.contact else []),
            )
            if section.paragraphs or section.items or any(table.rows for table in section.tables)
        ],
    )


def _model_section(record: VersionRecord, training: TrainingRun) -> Section:
    rows = [
        ["registry version", record.version],
        ["version bump", record.tags.get("semver.bump", "")],
        *([name, value] for name, value in sorted(training.params.items())),
    ]
    return Section("Model", tables=[Table(["property", "value"], rows)])


def _metrics_section(record: VersionRecord, gates: Sequence[GateResult]) -> Section:
    metrics = Table(
        ["metric (held-out)", "value"],
        [[name, f"{value:.6g}"] for name, value in sorted(record.metrics.items())],
    )
    gate_rows = Table(
        ["gate", "verdict", "value", "threshold"],
        [
            [
                gate.gate,
                "passed" if gate.passed else "FAILED",
                str(gate.actual),
                str(gate.threshold),
            ]
            for gate in gates
        ],
    )
    return Section(
        "Metrics and gates",
        paragraphs=[
            f"The gates for {GATE_STAGE} as params.yaml configures them now; a regression gate "
            "compares with the current champion and is absent when this version is the champion."
        ],
        tables=[metrics, gate_rows],
    )


def _data_section(record: VersionRecord, training: TrainingRun) -> Section:
    rows = [
        [
            dataset.name,
            dataset.context,
            "" if dataset.rows is None else str(dataset.rows),
            str(len(dataset.columns)),
            dataset.digest,
        ]
        for dataset in training.datasets
    ]
    return Section(
        "Training data",
        paragraphs=[
            f"Data hash (SHA-256 of the prepared train and test splits): "
            f"{record.lineage.get('data_hash') or 'not recorded'}."
        ],
        items=[
            f"{dataset.name} columns: {', '.join(dataset.columns)}"
            for dataset in training.datasets
            if dataset.columns
        ],
        tables=[Table(["dataset", "context", "rows", "columns", "MLflow digest"], rows)],
    )


def _lineage_section(record: VersionRecord) -> Section:
    rows = [
        ["MLflow run", record.run_id],
        *([key, value] for key, value in sorted(record.lineage.items())),
        ["provenance digest", record.tags.get("provenance.sha256", "")],
    ]
    return Section("Lineage", tables=[Table(["fact", "value"], rows)])


def _drift_section(record: VersionRecord, history: Sequence[AuditEvent]) -> Section:
    tags = {
        key: value
        for key, value in record.tags.items()
        if key == DRIFT_TAG or key.startswith(f"{DRIFT_TAG}.")
    }
    checks = [event for event in history if event.action in _DRIFT_EVENTS]
    if not tags and not checks:
        return Section("Latest drift check", paragraphs=["No drift check recorded yet."])
    latest = checks[-1:]
    return Section(
        "Latest drift check",
        items=[f"{event.action} at {event.at} by {event.by}: {event.reason}" for event in latest],
        tables=[Table(["tag", "value"], sorted([key, value] for key, value in tags.items()))],
    )


def _rollout_section(history: Sequence[AuditEvent]) -> Section:
    """Every canary step, verdict (with the queries behind it) and outcome of ``just rollout``."""
    rows = [
        [event.at, event.by, event.action.removeprefix("rollout-"), event.reason]
        for event in history
        if event.action in ROLLOUT_ACTIONS
    ]
    return Section(
        "Canary rollouts",
        paragraphs=[
            "Each step of `just rollout`: the traffic share, the verdict against the "
            "objectives in params.yaml (measured value and limit, and the Prometheus queries "
            "behind it), and how the rollout ended."
        ]
        if rows
        else [],
        tables=[Table(["when (UTC)", "who", "event", "detail"], rows)],
    )


def _history_section(history: Sequence[AuditEvent]) -> Section:
    rows = [
        [
            event.at,
            event.by,
            event.action,
            f"{event.from_stage or '-'} → {event.to_stage or '-'}",
            event.reason,
        ]
        for event in history
    ]
    return Section(
        "Promotion history",
        tables=[Table(["when (UTC)", "who", "action", "stage", "why"], rows)],
    )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
