"""DVC experiments: whether this process is a stage of one, and which.

``dvc exp run`` runs the pipeline as an experiment in the workspace, in a
temporary copy of the repository (``--temp``) or, queued with ``--queue``,
in copies that ``dvc queue start`` runs side by side. In every mode DVC
gives each stage command the experiment's name (``DVC_EXP_NAME``), the
commit it started from (``DVC_EXP_BASELINE_REV``) and the root of the
repository ``dvc exp run`` was started in (``DVC_ROOT``): DVC stores them
with the experiment when it queues it (``dvc/repo/experiments/queue/base.py``)
and passes them to every stage's command (``dvc/stage/run.py``). A plain
``dvc repro`` or ``just pipeline`` sets no experiment name.

The stages use these facts to tag the MLflow run with the experiment, to log
into the project's own store from a temporary copy (:func:`.tracking.local_store_uri`)
and to register nothing unless asked (``registry.experiments`` in ``params.yaml``).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NAME_ENV = "DVC_EXP_NAME"
BASELINE_ENV = "DVC_EXP_BASELINE_REV"
ROOT_ENV = "DVC_ROOT"
#: The MLflow tags that name the experiment a run belongs to.
NAME_TAG = "dvc.exp_name"
BASELINE_TAG = "dvc.exp_baseline_rev"


@dataclass(frozen=True)
class DvcExperiment:
    """The DVC experiment this process runs a stage of."""

    name: str
    baseline_rev: str
    #: The repository ``dvc exp run`` was started in (not a temporary copy of it).
    origin: Path | None

    def tags(self) -> dict[str, str]:
        """MLflow tags naming the experiment and its baseline commit."""
        return {NAME_TAG: self.name, BASELINE_TAG: self.baseline_rev}


def current(environ: Mapping[str, str] | None = None) -> DvcExperiment | None:
    """The experiment this process is a stage of, or ``None`` outside ``dvc exp run``."""
    env = os.environ if environ is None else environ
    name = env.get(NAME_ENV, "").strip()
    if not name:
        return None
    origin = env.get(ROOT_ENV, "").strip()
    return DvcExperiment(
        name=name,
        baseline_rev=env.get(BASELINE_ENV, "").strip(),
        origin=Path(origin) if origin else None,
    )


def origin_root(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The project a checkout at ``root`` belongs to: itself, or the one a DVC copy came from.

    Inside a DVC experiment whose workspace is a temporary copy below the
    repository it was started from (``<repo>/.dvc/tmp/exps/...``), that
    repository; otherwise ``root`` itself (the workspace, a plain ``dvc repro``,
    or a root outside the experiment's repository).
    """
    experiment = current(environ)
    if experiment is None or experiment.origin is None:
        return root
    origin = experiment.origin.resolve()
    here = root.resolve()
    if here != origin and here.is_relative_to(origin / ".dvc"):
        return origin
    return root
