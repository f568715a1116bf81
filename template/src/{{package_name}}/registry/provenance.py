"""``provenance.json``: the fingerprint of a registered version's artifacts.

Written once at registration (SHA-256 of every model file, plus lineage and
metrics) and checked every time the model is loaded for prediction, so a
corrupted or tampered artifact store is caught before it serves a request.
"""

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ProvenanceError
from ..lineage import sha256_file

PROVENANCE_FILE = "provenance.json"
#: A model bundle (``just export``) holds the MLflow model files here, beside ``provenance.json``.
BUNDLE_MODEL_DIR = "model"


#: Where Python caches the bytecode of a module it imports. Any MLflow client that loads a
#: model straight from a local artifact store (stock ``mlflow.pyfunc.load_model``) leaves
#: one beside the model's code: derived files, not model files.
BYTECODE_CACHE = "__pycache__"
#: What MLflow's client wrote beside the files of a registered version it downloaded (the
#: model's name and version), up to MLflow 3.17; a client loading straight from a local
#: store even wrote it into the store. It names the download, not the logged model: no
#: digest covers it, a check ignores it, and a verified bundle leaves it out, so that
#: versions registered under any MLflow release check and export alike.
DOWNLOAD_METADATA = "registered_model_meta"


def artifact_digests(model_dir: Path) -> dict[str, str]:
    """SHA-256 of every model file under ``model_dir``, by POSIX path.

    Bytecode caches and MLflow's download metadata are not model files.
    """
    return {
        name: sha256_file(path)
        for path in sorted(model_dir.rglob("*"))
        if path.is_file()
        and BYTECODE_CACHE not in path.relative_to(model_dir).parts
        and (name := path.relative_to(model_dir).as_posix()) != DOWNLOAD_METADATA
    }


def discard_derived_files(model_dir: Path) -> None:
    """Delete what no digest covers from a downloaded copy before it is checked or loaded.

    Bytecode caches must not be imported in their sources' place (loading a model
    puts its ``code/`` on ``sys.path``); MLflow's download metadata differs by release.
    """
    for cache in sorted(model_dir.rglob(BYTECODE_CACHE), reverse=True):
        if cache.is_dir() and not cache.is_symlink():
            shutil.rmtree(cache)
    (model_dir / DOWNLOAD_METADATA).unlink(missing_ok=True)


def build(
    *,
    semver: str,
    version: str,
    run_id: str,
    lineage: Mapping[str, Any],
    metrics: Mapping[str, float],
    model_dir: Path,
) -> dict[str, Any]:
    """The provenance record of a version whose model files are in ``model_dir``."""
    return {
        "semver": semver,
        "registry_version": version,
        "mlflow_run_id": run_id,
        "git_sha": lineage.get("git_sha"),
        "git_dirty": lineage.get("git_dirty"),
        "content_hash": lineage.get("content_hash"),
        "data_hash": lineage.get("data_hash"),
        "params_hash": lineage.get("params_hash"),
        "template_version": lineage.get("template_version"),
        "metrics": dict(metrics),
        "artifacts": artifact_digests(model_dir),
    }


def verify(model_dir: Path, provenance: Mapping[str, Any]) -> None:
    """Check every recorded artifact digest against the files in ``model_dir``.

    Raises:
        ProvenanceError: a file is missing, extra, or its digest differs.
    """
    recorded: Mapping[str, str] = provenance.get("artifacts", {})
    # Versions registered under MLflow 3.17 or earlier recorded the download metadata too.
    expected = {name: digest for name, digest in recorded.items() if name != DOWNLOAD_METADATA}
    actual = artifact_digests(model_dir)
    problems = [f"{name} is missing" for name in sorted(set(expected) - set(actual))]
    problems += [f"{name} is not in provenance" for name in sorted(set(actual) - set(expected))]
    problems += [
        f"{name} has digest {actual[name][:12]}…, expected {digest[:12]}…"
        for name, digest in sorted(expected.items())
        if name in actual and actual[name] != digest
    ]
    if problems:
        raise ProvenanceError(
            f"Model {provenance.get('semver')} failed its integrity check: {'; '.join(problems)}. "
            "Restore the artifact store or register the model again."
        )
