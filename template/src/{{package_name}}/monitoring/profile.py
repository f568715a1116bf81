"""A version's reference profile, read from its verified model files.

:class:`ReferenceProfile` itself is defined in :mod:`..data.profile`, where
the train stage (which may not import monitoring) builds it; it is part of
this package's interface because every drift check starts from it. A
profile is read only from a model bundle whose files all match the digests
recorded at registration, so a tampered profile cannot hide drift.
"""

import json
from pathlib import Path
from typing import Any

import yaml

from ..data.profile import PROFILE_ARTIFACT, PROFILE_FILE, ReferenceProfile
from ..errors import ModelNotFoundError, ProvenanceError
from ..registry import provenance
from ..registry.provenance import BUNDLE_MODEL_DIR, PROVENANCE_FILE

__all__ = ["PROFILE_ARTIFACT", "PROFILE_FILE", "ReferenceProfile", "read_bundle_profile"]

_MLMODEL = "MLmodel"


def read_bundle_profile(bundle: Path) -> tuple[ReferenceProfile, dict[str, Any]]:
    """The reference profile in ``bundle`` and its provenance record, after verifying every file.

    Raises:
        ModelNotFoundError: ``bundle`` is not a model bundle, or its model has no profile.
        ProvenanceError: a file is missing, extra or altered.
    """
    model_dir = bundle / BUNDLE_MODEL_DIR
    record_file = bundle / PROVENANCE_FILE
    if not (model_dir.is_dir() and record_file.is_file()):
        raise ModelNotFoundError(
            f"No model bundle at {bundle}: expected {BUNDLE_MODEL_DIR}/ and {PROVENANCE_FILE}; "
            "write one with `just export [version] [dir]`."
        )
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ProvenanceError(
            f"{record_file} is not valid JSON; export the bundle again."
        ) from None
    provenance.verify(model_dir, record)
    profile = model_dir / _profile_path(model_dir, str(record.get("semver", "this version")))
    return ReferenceProfile.from_json(profile.read_text(encoding="utf-8")), record


def _profile_path(model_dir: Path, semver: str) -> str:
    """Where ``MLmodel`` says the profile artifact is (verified before this reads it)."""
    mlmodel = yaml.safe_load((model_dir / _MLMODEL).read_text(encoding="utf-8")) or {}
    try:
        return str(mlmodel["flavors"]["python_function"]["artifacts"][PROFILE_ARTIFACT]["path"])
    except (KeyError, TypeError):
        raise ModelNotFoundError(
            f"The model of {semver} carries no reference profile ({PROFILE_FILE}): it was "
            "trained before drift checks existed. Retrain it with `just pipeline --force` and "
            "check the new version."
        ) from None
