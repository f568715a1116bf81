"""Where a version's files come from: MLflow's artifact store, or the project's own folder.

Checking a version (:mod:`.integrity`) takes two downloads: the run's
provenance folder and the model's files. :class:`~.store.RegistryStore` makes
them through MLflow, which works for every store and server but costs seconds
of imports. The project's own store records where its files are as
``file://`` URIs into ``mlartifacts/``, so :class:`LocalArtifacts` reads the
location from ``mlflow.db`` and copies the files straight from there: a
batch prediction or an export then needs no MLflow at all. The digests are
checked the same way whichever source delivered the files.
"""

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

from .local_reader import LocalRegistryReader
from .provenance import BYTECODE_CACHE


class ArtifactUnavailableError(Exception):
    """A source could not deliver a file: it is missing, or the store refused it."""


class ArtifactSource(Protocol):
    """The two downloads :mod:`.integrity` needs to check a version."""

    def download_model(self, number: str, destination: Path) -> Path:
        """Put the model files of version ``number`` in ``destination``; return it."""

    def download_run_artifacts(self, run_id: str, path: str, destination: Path) -> Path:
        """Put ``path`` of a run's artifacts under ``destination``; return where it landed."""


class LocalArtifacts:
    """A version's files copied from the local store's ``file://`` locations.

    Any location this cannot copy from (another URI scheme, a store layout it
    does not know) goes to ``fallback``, MLflow's own client, created only then.
    """

    def __init__(self, reader: LocalRegistryReader, fallback: Callable[[], ArtifactSource]) -> None:
        self.reader = reader
        self.fallback = fallback

    def download_model(self, number: str, destination: Path) -> Path:
        """Copy version ``number``'s model files into ``destination``, as MLflow downloads them."""
        try:
            folder = _local_path(self.reader.model_location(number)["artifact_location"])
        except sqlite3.Error:
            folder = None
        if folder is None:
            return self.fallback().download_model(number, destination)
        return _copy(folder, destination)

    def download_run_artifacts(self, run_id: str, path: str, destination: Path) -> Path:
        """Copy ``path`` of a run's artifacts to ``destination / path``, as MLflow does."""
        try:
            root = _local_path(self.reader.run_artifact_uri(run_id))
        except sqlite3.Error:
            root = None
        if root is None:
            return self.fallback().download_run_artifacts(run_id, path, destination)
        return _copy(root / path, destination / path)


def _local_path(uri: str) -> Path | None:
    """The folder a ``file://`` URI names on this machine; ``None`` for any other URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in {"", "localhost"}:
        return None
    return Path(url2pathname(parsed.path))


def _copy(source: Path, destination: Path) -> Path:
    """Copy a file or a folder; bytecode caches stay behind (no digest covers them).

    Raises:
        FileNotFoundError: ``source`` does not exist.
    """
    if source.is_dir():
        ignore = shutil.ignore_patterns(BYTECODE_CACHE)
        shutil.copytree(source, destination, ignore=ignore, dirs_exist_ok=True)
    elif source.is_file():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    else:
        raise FileNotFoundError(f"{source} does not exist")
    return destination
