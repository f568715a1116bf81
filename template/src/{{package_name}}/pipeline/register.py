"""``register`` stage: register the evaluated model and promote it through the gates.

The new version always lands in ``development``. If ``registry.promote_to``
is ``staging``, the stage then tries the gated promotion; a refusal is
recorded in ``reports/registration.json`` and printed, but does not fail the
pipeline, because the version itself was registered correctly. A run is
registered once: re-running the stage (say, after loosening a gate) finds
the run's version and only re-evaluates its promotion. Either way the
version's model card (``build/reports/model-card-<version>.md`` and ``.html``)
is written afresh.
"""

import logging
from dataclasses import dataclass, field

from ..config import Params
from ..errors import GateFailedError, ProvenanceError
from ..governance.model_card import write_model_card
from ..paths import ProjectPaths
from ..registry.semver import Fingerprint
from ..registry.service import ModelRegistry
from .io import read_json, write_json
from .run_record import load_run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """Outcome of the register stage."""

    version: str
    stage: str
    bump: str
    new: bool = True
    refused: list[str] = field(default_factory=list)


def register(
    params: Params, paths: ProjectPaths, *, pinned: str | None = None, by: str | None = None
) -> Registration:
    """Register the latest run (once) and apply the configured automatic promotion."""
    run = load_run(paths)
    metrics = read_json(paths.metrics, produced_by="just evaluate")
    registry = ModelRegistry(paths, params)
    registry.store.log_run_metrics(run.run_id, metrics)
    record, new = registry.register(
        run_id=run.run_id,
        model_uri=run.model_uri,
        fingerprint=Fingerprint(run.signature_hash, run.model_kind, run.params_hash),
        lineage=run.lineage,
        metrics=metrics,
        pinned=pinned,
        by=by,
        reason="registered by the pipeline",
    )
    refused: list[str] = []
    if params.registry.promote_to == "staging" and record.stage == "development":
        try:
            record = registry.promote(
                record.semver, "staging", by=by, reason="automatic promotion by the pipeline"
            )
        except (GateFailedError, ProvenanceError) as exc:
            refused.append(str(exc))
            logger.warning("%s", exc)
    result = Registration(
        version=record.semver,
        stage=record.stage,
        bump=record.tags.get("semver.bump", "") if new else "existing",
        new=new,
        refused=refused,
    )
    write_model_card(registry, record.semver)
    write_json(paths.registration, result.__dict__)
    return result
