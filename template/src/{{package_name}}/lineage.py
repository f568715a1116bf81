"""Lineage facts recorded with every model version.

A version is only trustworthy if it can be traced back to the exact code,
data and parameters that produced it: git commit (and whether the tree had
uncommitted changes), content hashes of the data and parameters, and the
template version the project was generated from.
"""

import hashlib
import json
import shutil
import subprocess  # nosec B404 - runs git with fixed arguments only
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Lineage:
    """Where a model came from."""

    git_sha: str | None
    git_dirty: bool
    content_hash: str | None
    data_hash: str
    params_hash: str
    template_version: str | None

    def as_tags(self) -> dict[str, str]:
        """Flatten for MLflow tags (strings only)."""
        return {
            f"lineage.{key}": "" if value is None else str(value)
            for key, value in asdict(self).items()
        }


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed so large artifacts need no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: Iterable[Path]) -> str:
    """One digest over several files, independent of the order given."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def sha256_json(value: Mapping[str, Any]) -> str:
    """Digest of a mapping in canonical JSON form (sorted keys)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _git(root: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603  # nosec B603 - fixed arguments, no shell
            [git, *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip()


def git_state(root: Path, ignored: Iterable[Path] = ()) -> tuple[str | None, bool]:
    """Current commit and whether tracked files differ from it.

    ``ignored`` lists paths the running pipeline rewrites itself (``dvc.lock``,
    stage outputs that DVC removes before a stage runs): changes there are not
    uncommitted code or configuration, so they do not count as dirty.
    """
    sha = _git(root, "rev-parse", "HEAD")
    status = _git(
        root, "status", "--porcelain", "--untracked-files=no", "--", ".", *_excludes(root, ignored)
    )
    return sha, bool(status)


def _excludes(root: Path, ignored: Iterable[Path]) -> list[str]:
    return [f":(exclude){path.relative_to(root).as_posix()}" for path in ignored]


def _digest_of(entries: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for path, blob in sorted(entries):
        digest.update(f"{path}\0{blob}\n".encode())
    return digest.hexdigest()


def _kept(root: Path, paths: Iterable[str], ignored: Iterable[Path]) -> list[str]:
    """``paths`` (relative to ``root``) that are not under an ignored pipeline output."""
    skipped = [path.relative_to(root).as_posix() for path in ignored]
    return [
        path
        for path in paths
        if not any(path == out or path.startswith(f"{out}/") for out in skipped)
    ]


def content_hash(root: Path, ignored: Iterable[Path] = ()) -> str | None:
    """Digest of the tracked files as they are on disk now (git blob ids, outputs excluded).

    Recorded at training, it lets a run trained on uncommitted changes be
    matched later with a commit that holds exactly those files
    (:func:`commit_holding`), so committing them is enough and nothing needs
    retraining.
    """
    listing = _git(root, "ls-files", "-z", "--", ".")
    if listing is None:
        return None
    tracked = _kept(root, filter(None, listing.split("\0")), ignored)
    present = [path for path in tracked if (root / path).is_file()]
    if not present:
        return _digest_of([])
    blobs = _git(root, "hash-object", "--", *present)
    if blobs is None:
        return None
    return _digest_of(zip(present, blobs.splitlines(), strict=True))


def committed_content_hash(
    root: Path, ignored: Iterable[Path] = (), revision: str = "HEAD"
) -> tuple[str, str] | None:
    """``(commit, digest)`` of the files tracked in ``revision``; see :func:`content_hash`."""
    sha = _git(root, "rev-parse", revision)
    listing = _git(root, "ls-tree", "-r", "-z", revision, "--", ".")
    if sha is None or listing is None:
        return None
    blobs: dict[str, str] = {}
    for line in filter(None, listing.split("\0")):
        meta, path = line.split("\t", 1)
        blobs[path] = meta.split()[2]
    return sha, _digest_of((path, blobs[path]) for path in _kept(root, blobs, ignored))


#: How far back the search for a commit holding a run's files goes (commits).
HISTORY_SEARCH_LIMIT = 500


def commit_holding(
    root: Path, digest: str, trained_on: str | None, ignored: Iterable[Path] = ()
) -> str | None:
    """The newest commit of the current branch whose tracked files hash to ``digest``.

    A run trained on uncommitted changes records the digest of the files it saw
    (:func:`content_hash`). Any commit made since, on this branch, that holds
    exactly those files vouches for it, even when later commits followed: only
    ``trained_on`` (the commit the run started from) and commits after it can
    hold them, so the search stops there, and at :data:`HISTORY_SEARCH_LIMIT`
    commits when that commit is unknown here (history was rewritten).
    """
    ignored = list(ignored)
    known = trained_on and _git(root, "cat-file", "-e", trained_on + "^{commit}") is not None
    since = ["--not", f"{trained_on}^@"] if known else []
    listing = _git(root, "rev-list", f"--max-count={HISTORY_SEARCH_LIMIT}", "HEAD", *since, "--")
    for revision in (listing or "").split():
        found = committed_content_hash(root, ignored, revision)
        if found is not None and found[1] == digest:
            return found[0]
    return None


def template_version(root: Path) -> str | None:
    """The copier-mlops version recorded in ``.copier-answers.yml``."""
    answers = root / ".copier-answers.yml"
    if not answers.is_file():
        return None
    data = yaml.safe_load(answers.read_text(encoding="utf-8")) or {}
    commit = data.get("_commit")
    return str(commit) if commit else None


def collect(
    root: Path,
    data_files: Iterable[Path],
    model_config: Mapping[str, Any],
    ignored: Iterable[Path] = (),
) -> Lineage:
    """Gather the lineage of a training run started now in ``root``."""
    ignored = list(ignored)
    sha, dirty = git_state(root, ignored)
    return Lineage(
        git_sha=sha,
        git_dirty=dirty,
        content_hash=content_hash(root, ignored),
        data_hash=sha256_files(data_files),
        params_hash=sha256_json(model_config),
        template_version=template_version(root),
    )
