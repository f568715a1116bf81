"""The serving image a version runs: ``IMAGE:<semver>-<git sha>``.

Docker tags cannot hold SemVer's ``+``, so the tag joins the model version and
the first :data:`SHA_LENGTH` characters of the commit it was trained from (its
lineage ``git_sha``) with a hyphen. Taking the SHA from the registry, not from
the checkout, means the image of any version (the champion, or the earlier
one a rollback restores) is named from the registry alone, whatever commit
the deploying checkout is at. ``IMAGE`` comes from ``tasks/project.just``;
the recipes pass it in, so this side never parses just files.
"""

import re

from ..registry.records import VersionRecord
from . import DeploymentError

#: Characters of the git SHA in the tag (git's short form, as ``just docker`` writes it).
SHA_LENGTH = 7
_REPOSITORY = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+$"
)
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


def check_repository(repository: str | None) -> str:
    """Validate the image name (registry, namespace and name; no tag, no digest).

    Raises:
        DeploymentError: missing, or not a lowercase image name without a tag.
    """
    if not repository:
        raise DeploymentError(
            "No image given: pass --image <registry>/<name> (`just deploy` passes IMAGE "
            "from tasks/project.just) or set the IMAGE environment variable."
        )
    if not _REPOSITORY.match(repository):
        raise DeploymentError(
            f"Image {repository!r} is not an image name: use a lowercase registry host, optional "
            "port and path, without scheme, tag or digest (e.g. ghcr.io/acme/churn-model)."
        )
    return repository


def tag_for(record: VersionRecord) -> str:
    """``<semver>-<git sha>`` of a version, from its lineage.

    Raises:
        DeploymentError: the version records no git SHA, so no image can be named for it.
    """
    sha = record.lineage.get("git_sha", "").strip().lower()
    if not _SHA.match(sha):
        raise DeploymentError(
            f"Version {record.semver} records no git SHA in its lineage, so it has no image "
            "tag <semver>-<git sha>; retrain it in a git checkout (just pipeline --force)."
        )
    return f"{record.semver}-{sha[:SHA_LENGTH]}"
