"""Integrity: a version's files must be exactly the ones it was registered with.

At registration ``provenance.json`` (SHA-256 of every model file, plus
lineage and metrics) is stored beside the run and its own digest in the
version's tags. Every operation that gives a version a stage, and every load
for prediction, downloads the files and checks both digests first, so a
corrupted or tampered artifact store is caught before it can serve. The
files come from any :class:`~.artifacts.ArtifactSource`: MLflow's client, or
a plain copy from the project's own store.
"""

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ProvenanceError
from ..lineage import sha256_file
from . import provenance
from .artifacts import ArtifactSource, ArtifactUnavailableError
from .records import PROVENANCE_DIGEST_TAG, PROVENANCE_PATH_TAG, VersionRecord

if TYPE_CHECKING:
    from .store import RegistryStore


def provenance_path(record: VersionRecord) -> str:
    """Where a version's provenance lives among its run's artifacts.

    Recorded in the version's tags (one run may be registered under several
    model names); versions from earlier releases used ``provenance/<semver>``.
    """
    return record.tags.get(PROVENANCE_PATH_TAG) or f"provenance/{record.semver}"


def read_provenance(source: ArtifactSource, record: VersionRecord, workdir: Path) -> dict[str, Any]:
    """The provenance record of ``record``, checked against the digest in the registry.

    The checked file is left at ``workdir/provenance.json``.

    Raises:
        ProvenanceError: the file is missing, unreadable or altered.
    """
    expected = record.tags.get(PROVENANCE_DIGEST_TAG)
    if not expected:
        raise ProvenanceError(
            f"Version {record.semver} has no provenance digest; it was not registered by "
            "this project's pipeline. Register it again with `just pipeline`."
        )
    try:
        local = source.download_run_artifacts(
            record.run_id, provenance_path(record), workdir / "provenance"
        )
    except (ArtifactUnavailableError, OSError) as exc:
        raise ProvenanceError(
            f"provenance.json of {record.semver} is missing from the artifact store "
            f"({str(exc).splitlines()[0][:160]}); restore the store or register the model again."
        ) from None
    found = local / provenance.PROVENANCE_FILE
    if not found.is_file() or sha256_file(found) != expected:
        raise ProvenanceError(
            f"provenance.json of {record.semver} does not match the digest in the registry; "
            "restore the artifact store or register the model again."
        )
    # Beside the model files, as a bundle lays them out (see :mod:`.export`).
    path = found.replace(workdir / provenance.PROVENANCE_FILE)
    shutil.rmtree(workdir / "provenance")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):  # pragma: no cover - digest matched a bad file
        raise ProvenanceError(f"provenance.json of {record.semver} is not JSON.") from None
    return data


def download_verified(source: ArtifactSource, record: VersionRecord, destination: Path) -> Path:
    """Download a version's model files and provenance into ``destination``; check them.

    ``destination`` ends up laid out as a bundle: ``model/`` beside ``provenance.json``.

    Raises:
        ProvenanceError: provenance or any model file fails its digest.
    """
    expected = read_provenance(source, record, destination)
    try:
        local = source.download_model(record.version, destination / provenance.BUNDLE_MODEL_DIR)
    except (ArtifactUnavailableError, OSError) as exc:
        raise ProvenanceError(
            f"Model files of {record.semver} are missing from the artifact store "
            f"({str(exc).splitlines()[0][:160]}); restore the store or register the model again."
        ) from None
    provenance.discard_derived_files(local)
    provenance.verify(local, expected)
    return local


def verify(source: ArtifactSource, record: VersionRecord) -> None:
    """Check a version's provenance and model files without loading the model."""
    with tempfile.TemporaryDirectory() as tmp:
        download_verified(source, record, Path(tmp))


def attach(
    store: "RegistryStore",
    record: VersionRecord,
    lineage: Mapping[str, Any],
    metrics: Mapping[str, float],
) -> None:
    """Write ``provenance.json`` for a new version and record its digest on the version."""
    with tempfile.TemporaryDirectory() as tmp:
        local = store.download_model(record.version, Path(tmp) / "model")
        data = provenance.build(
            semver=record.semver,
            version=record.version,
            run_id=record.run_id,
            lineage=lineage,
            metrics=metrics,
            model_dir=local,
        )
        path = Path(tmp) / provenance.PROVENANCE_FILE
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        location = f"provenance/{store.name}/{record.semver}"
        store.log_run_artifact(record.run_id, path, location)
        store.set_version_tag(record.version, PROVENANCE_PATH_TAG, location)
        store.set_version_tag(record.version, PROVENANCE_DIGEST_TAG, sha256_file(path))
