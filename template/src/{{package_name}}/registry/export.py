"""Export a registered version as a model bundle: what a serving process needs, verified.

A serving process, or the image built from it, should need neither the
registry nor MLflow at run time. A bundle is a directory holding the
version's model files (``model/``) and its ``provenance.json`` side by side,
both checked against the registry while exporting; the server checks the
files against the provenance again before it reports ready.
"""

import tempfile
from pathlib import Path

from ..errors import RegistryError
from . import integrity
from .artifacts import ArtifactSource
from .provenance import BUNDLE_MODEL_DIR, PROVENANCE_FILE
from .records import VersionRecord


def export_bundle(source: ArtifactSource, record: VersionRecord, destination: Path) -> Path:
    """Write ``record``'s verified bundle to ``destination``, replacing an older bundle.

    The bundle is assembled beside ``destination`` and moved into place only
    once complete, so a failed export leaves the previous bundle untouched.

    Raises:
        RegistryError: ``destination`` holds something that is not a bundle.
        ProvenanceError: the registry's files fail their digests.
    """
    destination = destination.absolute()
    if destination.exists() and not _replaceable(destination):
        raise RegistryError(
            f"{destination} exists and is not a model bundle; choose another --output "
            "or remove it (a bundle holds only model/ and provenance.json)."
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".export-") as tmp:
        staged = Path(tmp) / "bundle"
        integrity.download_verified(source, record, staged)
        if destination.exists():
            destination.rename(Path(tmp) / "previous")
        staged.rename(destination)
    return destination


def _replaceable(path: Path) -> bool:
    """An empty directory, or an earlier bundle (nothing else is ever deleted)."""
    if not path.is_dir():
        return False
    entries = {entry.name for entry in path.iterdir()}
    return not entries or entries <= {BUNDLE_MODEL_DIR, PROVENANCE_FILE}
