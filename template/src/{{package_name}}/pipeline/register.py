"""``register`` stage: register the evaluated model and promote it through the gates.

The new version always lands in ``development``. If ``registry.promote_to``
is ``staging``, the stage then tries the gated promotion; a refusal is
recorded in ``reports/registration.json`` and printed, but does not fail the
pipeline, because the version itself was registered correctly. A run is
registered once: re-running the stage (say, after loosening a gate) finds
the run's version and only re-evaluates its promotion. Either way the
version's model card (``build/reports/model-card-<version>.md`` and ``.html``)
is written afresh.

Inside a DVC experiment (``dvc exp run`` in the workspace, ``--temp`` or
queued) the stage registers nothing unless ``registry.experiments`` is
``register`` (``dvc exp run -S registry.experiments=register``): experiments
are for comparing. It still records the metrics on the experiment's MLflow run,
and writes ``reports/registration.json`` as ``{"registered": false, "version":
null, ...}`` naming the experiment and the run, so ``dvc.lock`` stays whole;
``just pipeline`` outside an experiment reruns the stage on such a record and
registers what the workspace then holds.
"""

import logging
from dataclasses import asdict, dataclass, field

from .. import experiments
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


@dataclass(frozen=True)
class NotRegistered:
    """Outcome of the register stage in a DVC experiment that did not ask to register."""

    experiment: str
    baseline_rev: str
    run_id: str
    reason: str
    registered: bool = False
    version: None = None
    stage: None = None


def skips(params: Params, experiment: experiments.DvcExperiment | None) -> bool:
    """Whether the register stage registers nothing: in a DVC experiment that did not opt in."""
    return experiment is not None and params.registry.experiments == "skip"


def register_stage(
    params: Params, paths: ProjectPaths, *, pinned: str | None = None, by: str | None = None
) -> Registration | NotRegistered:
    """The ``register`` stage: :func:`register`, except in a DVC experiment that :func:`skips`."""
    experiment = experiments.current()
    if experiment is None or not skips(params, experiment):
        return register(params, paths, pinned=pinned, by=by)
    run = load_run(paths)
    metrics = read_json(paths.metrics, produced_by="just evaluate")
    ModelRegistry(paths, params).store.log_run_metrics(run.run_id, metrics)
    result = NotRegistered(
        experiment=experiment.name,
        baseline_rev=experiment.baseline_rev,
        run_id=run.run_id,
        reason=(
            f"DVC experiment {experiment.name}: nothing registered (registry.experiments is "
            f"skip); its MLflow run {run.run_id} holds the metrics. To register it: "
            f"`dvc exp apply {experiment.name}` then `just pipeline`, or run the experiment "
            f"with `-S registry.experiments=register`."
        ),
    )
    write_json(paths.registration, asdict(result))
    return result


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
