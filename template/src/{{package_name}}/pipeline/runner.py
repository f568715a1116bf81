"""``just pipeline``: DVC decides what to rerun; this project's stages run in one process.

``dvc repro`` starts one process per stage, and each pays again for importing
MLflow, scikit-learn and pandas: most of a forced run's time. The runner hands
DVC's own reproduction a stage function (DVC's ``repro_fn`` hook): DVC still
plans the run from ``dvc.yaml``, skips unchanged stages and records each stage
in ``dvc.lock`` and its cache as ``dvc repro`` does, but a stage whose command
is this project's own (:data:`STAGE_COMMAND`) is called here, in this process,
instead of in a new one. Any other stage (one you added, or one whose command
you changed) runs its command through DVC as usual.

The register stage also reruns when its last record is a DVC experiment's
"registered nothing" (see :mod:`.register`): outside an experiment,
``just pipeline`` registers what the workspace holds.
"""

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import experiments
from ..errors import ProjectError
from ..paths import ProjectPaths

if TYPE_CHECKING:
    from dvc.stage import Stage

OWN_STAGES = ("prepare", "train", "evaluate", "register")
#: The command ``dvc.yaml`` gives each of the project's own stages. ``--extra lifecycle``:
#: a DVC experiment's temporary copy (``dvc exp run --temp``, queued runs) gets a venv of
#: its own, which a plain ``uv run`` would sync without what the stages import;
#: ``--no-dev``: that venv needs no dev tools (``uv run`` never removes them from yours).
STAGE_COMMAND = "uv run --frozen --no-dev --extra lifecycle {package} {stage}"
#: Earlier releases' command, still recognised in a ``dvc.yaml`` not updated yet.
LEGACY_STAGE_COMMAND = "uv run --frozen {package} {stage}"

RunStage = Callable[[str], int]
"""Runs one of the project's stages by name, in this process; returns its exit status."""


class PipelineError(ProjectError):
    """A stage failed, or DVC could not reproduce the pipeline."""


def reproduce(
    root: str, package: str, run_stage: RunStage, *, targets: Sequence[str], force: bool
) -> list[str]:
    """Reproduce the pipeline (or ``targets`` and what they depend on); return the stages run.

    Raises:
        PipelineError: a stage failed or DVC refused the run; the message names it.
    """
    from dvc.exceptions import DvcException  # noqa: PLC0415 - DVC is a pipeline-only tool
    from dvc.repo import Repo  # noqa: PLC0415

    _show_dvc_progress()
    commands = {
        form.format(package=package, stage=name): name
        for form in (STAGE_COMMAND, LEGACY_STAGE_COMMAND)
        for name in OWN_STAGES
    }

    def reproduce_stage(stage: "Stage", **kwargs: Any) -> "Stage | None":
        own = commands.get(stage.cmd) if isinstance(stage.cmd, str) else None
        if own is None:
            ran = stage.reproduce(**kwargs)
            if ran is not None:
                ran.dump(update_pipeline=False)
            return ran
        if own == "register" and left_unregistered(Path(root)):
            kwargs["force"] = True
        return _reproduce_here(stage, own, run_stage, **kwargs)

    try:
        # DVC reads targets and dvc.yaml relative to the working directory.
        with contextlib.chdir(root), Repo(root) as repo:
            ran = repo.reproduce(targets or None, force=force, repro_fn=reproduce_stage)
    except DvcException as exc:
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise PipelineError(f"{exc}{cause}") from None
    return [stage.addressing for stage in ran]


def left_unregistered(root: Path) -> bool:
    """Whether ``reports/registration.json`` is a DVC experiment's "registered nothing".

    Written by the register stage inside an experiment (``"registered": false``);
    outside one it is stale, whatever ``dvc.lock`` says.
    """
    if experiments.current() is not None:
        return False
    try:
        record = json.loads(ProjectPaths(root).registration.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("registered") is False


def _reproduce_here(
    stage: "Stage", name: str, run_stage: RunStage, **kwargs: Any
) -> "Stage | None":
    """What ``Stage.reproduce`` does, with the command replaced by a call in this process."""
    logger = logging.getLogger("dvc")
    if not kwargs.get("force") and not stage.changed(upstream=kwargs.get("upstream")):
        logger.info("Stage '%s' didn't change, skipping", stage.addressing)
        return None
    stage.remove_outs(ignore_remove=False, force=False)
    if kwargs.get("force") or not _restored_from_run_cache(stage):
        logger.info("Running stage '%s' in this process:\n> %s", stage.addressing, stage.cmd)
        status = run_stage(name)
        if status != 0:
            raise PipelineError(f"stage {name!r} exited with status {status}")
    # As DVC does: a stage with an uncached output has no run-cache entry.
    uncached = any(not out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot))
    stage.save(run_cache=not uncached)
    stage.commit()
    stage.dump(update_pipeline=False)
    return stage


def _restored_from_run_cache(stage: "Stage") -> bool:
    """Like ``dvc repro``: outputs of an earlier run with these exact inputs come from the cache."""
    from dvc.stage.cache import RunCacheNotFoundError  # noqa: PLC0415

    try:
        stage.repo.stage_cache.restore(stage)
    except RunCacheNotFoundError:
        stage.save_deps()
        return False
    return True


def _show_dvc_progress() -> None:
    """Print DVC's progress lines ("Running stage ...") as the ``dvc`` command would."""
    logger = logging.getLogger("dvc")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
