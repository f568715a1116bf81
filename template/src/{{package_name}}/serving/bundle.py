"""Open a model bundle for serving: verify its files, load the adapter, read its contract.

A bundle (written by ``just export``) is ``model/`` (an MLflow model
directory) beside ``provenance.json``. The server trusts nothing it has not
checked: every model file must match the digest recorded at registration
before the adapter is deserialised, and the input contract comes from the
signature MLflow recorded at training time.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import yaml

from ..data.profile import PROFILE_ARTIFACT
from ..errors import ModelNotFoundError, ProvenanceError
from ..models.adapter import MODEL_ARTIFACT, ModelAdapter
from ..registry import provenance
from ..registry.provenance import BUNDLE_MODEL_DIR, PROVENANCE_FILE

_MLMODEL = "MLmodel"
_INPUT_EXAMPLE = "input_example.json"


@dataclass(frozen=True)
class Feature:
    """One input column as the model signature declares it."""

    name: str
    #: MLflow's column type: double, float, long, integer, boolean or string.
    type: str
    required: bool = True


@dataclass(frozen=True)
class ServedModel:
    """A verified, loaded model and the facts every response and log line carries."""

    adapter: ModelAdapter
    features: tuple[Feature, ...]
    semver: str
    registry_version: str
    git_sha: str | None
    run_id: str
    task: str
    #: Rows MLflow saved as the input example at training time (for the server's self-check).
    example: tuple[dict[str, Any], ...] = ()
    #: The MLflow version that saved the model (``mlflow_version`` in ``MLmodel``): what
    #: ``GET /version`` answers, as ``mlflow models serve`` answers its own version.
    mlflow_version: str = "unknown"
    #: Regression: the training target's deciles from the version's reference profile
    #: (empty when it records none); the bucket edges of the served-prediction histogram.
    target_edges: tuple[float, ...] = ()

    def describe(self) -> dict[str, Any]:
        """What ``GET /model`` answers: which model, from which code and run."""
        return {
            "version": self.semver,
            "registry_version": self.registry_version,
            "git_sha": self.git_sha,
            "run_id": self.run_id,
            "task": self.task,
            "kind": self.adapter.strategy.kind,
            "features": [feature.name for feature in self.features],
            "mlflow_version": self.mlflow_version,
        }


def open_bundle(path: Path) -> ServedModel:
    """Verify the bundle at ``path`` and load its model.

    Raises:
        ModelNotFoundError: ``path`` is not a bundle.
        ProvenanceError: a file is missing, extra or altered, or the bundle is malformed.
    """
    model_dir = path / BUNDLE_MODEL_DIR
    record_file = path / PROVENANCE_FILE
    if not (model_dir.is_dir() and record_file.is_file()):
        raise ModelNotFoundError(
            f"No model bundle at {path}: expected {BUNDLE_MODEL_DIR}/ and {PROVENANCE_FILE}; "
            "write one with `just export [version] [dir]`."
        )
    record = _read_json(record_file)
    provenance.verify(model_dir, record)
    mlmodel = _read_mlmodel(model_dir / _MLMODEL)
    adapter = _load_adapter(model_dir, mlmodel)
    return ServedModel(
        adapter=adapter,
        features=_signature_inputs(mlmodel, adapter),
        semver=str(record.get("semver")),
        registry_version=str(record.get("registry_version")),
        git_sha=record.get("git_sha"),
        run_id=str(record.get("mlflow_run_id")),
        task=adapter.strategy.task,
        example=_input_example(model_dir / _INPUT_EXAMPLE),
        mlflow_version=str(mlmodel.get("mlflow_version") or "unknown"),
        target_edges=_target_edges(model_dir, mlmodel),
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ProvenanceError(f"{path} is not valid JSON; export the bundle again.") from None
    if not isinstance(data, dict):
        raise ProvenanceError(f"{path} is not a provenance record; export the bundle again.")
    return data


def _read_mlmodel(path: Path) -> dict[str, Any]:
    # Covered by the digests checked just before, so a parse failure means a bad export.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ProvenanceError(f"{path} is not an MLflow model description.")
    return data


def _load_adapter(model_dir: Path, mlmodel: dict[str, Any]) -> ModelAdapter:
    try:
        relative = mlmodel["flavors"]["python_function"]["artifacts"][MODEL_ARTIFACT]["path"]
    except (KeyError, TypeError):
        raise ProvenanceError(
            f"{model_dir / _MLMODEL} names no {MODEL_ARTIFACT!r} artifact; "
            "the model was not logged by this project's pipeline."
        ) from None
    # Deserialising runs code from the file: safe only because its digest matched above.
    adapter = joblib.load(model_dir / relative)  # nosec B301
    if not isinstance(adapter, ModelAdapter):
        raise ProvenanceError(
            f"{relative} holds {type(adapter).__name__}, expected a ModelAdapter."
        )
    return adapter


def _signature_inputs(mlmodel: dict[str, Any], adapter: ModelAdapter) -> tuple[Feature, ...]:
    """Input columns from the recorded signature; the adapter's features if there is none."""
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    if not inputs:
        return tuple(Feature(name, "double") for name in adapter.feature_names)
    columns = json.loads(inputs) if isinstance(inputs, str) else inputs
    return tuple(
        Feature(str(column["name"]), str(column["type"]), bool(column.get("required", True)))
        for column in columns
    )


def _input_example(path: Path) -> tuple[dict[str, Any], ...]:
    """The training-time input example as rows; none when MLflow saved another layout."""
    if not path.is_file():
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(dict(zip(data["columns"], row, strict=True)) for row in data["data"])
    except (ValueError, TypeError, KeyError):
        return ()


def _target_edges(model_dir: Path, mlmodel: dict[str, Any]) -> tuple[float, ...]:
    """The target deciles the reference profile records (verified above); none if absent."""
    try:
        artifacts = mlmodel["flavors"]["python_function"]["artifacts"]
        profile = _read_json(model_dir / artifacts[PROFILE_ARTIFACT]["path"])
        return tuple(float(edge) for edge in profile.get("target_edges") or ())
    except (KeyError, TypeError, ValueError, ProvenanceError):
        return ()
