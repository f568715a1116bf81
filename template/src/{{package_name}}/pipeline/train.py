"""``train`` stage: fit the configured strategy and log the run to MLflow.

With ``search.method`` set, the hyper-parameters are first tuned by
cross-validation (:mod:`..tuning`) and the run gets one nested run per
candidate. The run records parameters, the training dataset, lineage tags
and the model (with signature and input example, and the training features' reference
profile that drift checks compare later batches with). If anything fails
inside the run, MLflow marks it FAILED, so half-finished runs never look
like candidates. A run of a DVC experiment is named after it and tagged
``dvc.exp_name`` and ``dvc.exp_baseline_rev`` (see :mod:`..experiments`).
"""

import logging
import tempfile
import warnings
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any

import joblib
import mlflow
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

from .. import DISTRIBUTION, experiments, lineage, tracking
from ..config import Params
from ..data.profile import PROFILE_ARTIFACT, PROFILE_FILE, ReferenceProfile
from ..models.adapter import MODEL_ARTIFACT
from ..models.factory import build_model
from ..models.pyfunc import AdapterPyfunc
from ..paths import ProjectPaths
from ..tuning.runs import log_search
from .fitting import choose_model, fit
from .io import write_atomically, write_json
from .prepare import load_prepared
from .run_record import TrainedRun

logger = logging.getLogger(__name__)

MODEL_NAME_IN_RUN = "model"
#: The optional dependencies a logged model pins besides the runtime list.
LOADER_EXTRA = "mlflow"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def train(params: Params, paths: ProjectPaths) -> TrainedRun:
    """Fit on the prepared training split, save the model, log everything to MLflow."""
    features, target = load_prepared(params, paths, "train")
    # With `search:` set, the best candidate by cross-validation is what gets trained.
    model, search = choose_model(params, features, target)
    model_config = model.model_dump()
    facts = lineage.collect(
        paths.root,
        [paths.train_data, paths.test_data],
        model_config,
        ignored=paths.pipeline_outputs(),
    )
    # Built (and its hyper-parameters validated) before the run starts, so a config
    # error leaves no FAILED run behind.
    strategy = build_model(params.task, model)
    profile = ReferenceProfile.from_frame(
        features, bins=params.drift.bins, sample_size=params.drift.sample_size
    )
    if params.task == "regression":
        profile = profile.with_target(target)  # the served predictions' bucket edges
    tracking.configure(paths.root, params.tracking.experiment)
    experiment = experiments.current()

    # Integer class labels make MLflow hint that integer columns cannot hold missing
    # values; the training data is validated to have none, so the hint is noise.
    with (
        warnings.catch_warnings(),
        tempfile.TemporaryDirectory() as scratch,
        mlflow.start_run(run_name=experiment.name if experiment else None) as run,
    ):
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        mlflow.set_tags(
            {
                **facts.as_tags(),
                **(experiment.tags() if experiment else {}),
                "model.kind": params.model.kind,
                "task": params.task,
            }
        )
        mlflow.log_params(_flatten({"model": model_config, "split": params.split.model_dump()}))
        if search is not None:
            log_search(search)
        mlflow.log_input(
            from_pandas(
                features.assign(**{params.data.target: target}),
                name=params.data.dataset,
                targets=params.data.target,
            ),
            context="training",
        )
        adapter = fit(strategy, features, target)
        write_atomically(paths.model_file, lambda tmp: joblib.dump(adapter, tmp))
        example = features.head(5)
        signature = infer_signature(example, adapter.predict(example))
        profile_file = Path(scratch) / PROFILE_FILE
        profile_file.write_text(profile.to_json(), encoding="utf-8")
        logged = mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=AdapterPyfunc(),
            # Among the model files, the profile is covered by the version's provenance
            # digests and travels in every exported bundle.
            artifacts={MODEL_ARTIFACT: str(paths.model_file), PROFILE_ARTIFACT: str(profile_file)},
            signature=signature,
            input_example=example,
            pip_requirements=_pinned_requirements(),
            # The package travels with the model, so `mlflow.pyfunc.load_model` works
            # where the project is not installed (a serving image, a notebook).
            code_paths=[str(PACKAGE_DIR)],
        )
        result = TrainedRun(
            run_id=run.info.run_id,
            model_uri=logged.model_uri,
            model_kind=params.model.kind,
            params_hash=facts.params_hash,
            signature_hash=lineage.sha256_json(signature.to_dict()),
            lineage=asdict(facts),
        )
    write_json(paths.run_record, asdict(result))
    logger.info("Logged run %s with model %s", result.run_id, result.model_uri)
    return result


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _pinned_requirements() -> list[str]:
    """What loading the model needs, pinned to the installed versions.

    The runtime dependencies plus the ``mlflow`` extra (the pyfunc loader), read
    from the installed package's metadata (parsed by ``packaging``, as pip does),
    so a library added with ``uv add`` is recorded with the model too; a
    dependency whose environment marker excludes this interpreter is left out,
    and the other extras (training, serving) are not needed to predict. Passing
    the list explicitly also spares MLflow its slow dependency inference.
    """
    from packaging.requirements import Requirement  # noqa: PLC0415 - only training pins

    pinned = []
    for line in requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is not None and not marker.evaluate({"extra": LOADER_EXTRA}):
            continue
        try:
            pinned.append(f"{requirement.name}=={version(requirement.name)}")
        except PackageNotFoundError:  # pragma: no cover - declared but not installed
            pinned.append(str(requirement))
    return pinned
