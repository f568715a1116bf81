"""Where a scoring job writes: a hidden directory beside the output, moved into place whole.

Whoever reads the output (a Spark job, a loader, the next scoring job) must
never see half a job. Parts are written into a staging directory on the same
filesystem as the output, and the directory is renamed into place only once
every partition is scored; any failure, Ctrl-C included, removes the staging
directory, so a failed job leaves neither an output nor debris. Only an
earlier scoring output (one with a manifest) is ever replaced, never a
directory that merely has the same name.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ..errors import ProjectError

if TYPE_CHECKING:
    from types import TracebackType

#: What the job wrote, beside the parts; ``_`` names are skipped by Parquet readers.
MANIFEST = "_manifest.json"
PART_GLOB = "part-*.parquet"


class OutputError(ProjectError):
    """The output cannot be written where it was asked (it exists, or overlaps the input)."""


def check_destination(destination: Path, source: Path, *, overwrite: bool) -> None:
    """Refuse an output that would lose data, before any work is done.

    Raises:
        OutputError: ``destination`` exists (without ``overwrite``), is not an
            earlier scoring output, or contains or lies inside ``source``.
    """
    output, data = destination.resolve(), source.resolve()
    if output == data or data.is_relative_to(output) or output.is_relative_to(data):
        raise OutputError(
            f"{destination}: the output must not be the input, inside it, or contain it "
            f"({source}); choose another output directory"
        )
    _check_existing(destination, overwrite=overwrite)


def _check_existing(destination: Path, *, overwrite: bool) -> None:
    if not destination.exists() and not destination.is_symlink():
        return
    if not overwrite:
        raise OutputError(
            f"{destination} exists; pass --overwrite to replace it whole, or choose another output"
        )
    if not _replaceable(destination):
        raise OutputError(
            f"{destination} exists and is not a scoring output (no {MANIFEST}); "
            "choose another output or remove it yourself"
        )


class StagedOutput:
    """A hidden staging directory beside the output: ``parts/`` and the job's model ``bundle/``.

    The bundle sits there too, so workers that can read the parts can read the
    model, and two jobs at once never share (or replace) each other's bundle.
    """

    def __init__(self, destination: Path, *, overwrite: bool) -> None:
        self.destination = destination
        self.overwrite = overwrite
        self._root: Path | None = None

    @property
    def root(self) -> Path:
        """The staging directory (it exists inside the ``with`` block only)."""
        if self._root is None:
            raise RuntimeError("StagedOutput is used outside its `with` block")
        return self._root

    @property
    def parts(self) -> Path:
        """Where tasks write ``part-<index>.parquet``; becomes the output."""
        return self.root / "parts"

    @property
    def bundle(self) -> Path:
        """Where the version's verified bundle is exported for the tasks."""
        return self.root / "bundle"

    def __enter__(self) -> Self:
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{self.destination.name}.scoring-"
        self._root = Path(tempfile.mkdtemp(prefix=prefix, dir=self.destination.parent))
        self.parts.mkdir()
        return self

    def publish(self, manifest: dict[str, Any]) -> None:
        """Write the manifest and move the parts into place; an earlier output goes last.

        Raises:
            OutputError: the output appeared meanwhile (another job) and may not be replaced.
        """
        for leftover in self.parts.glob(".*"):
            # A write a killed worker never finished; its task ran again elsewhere.
            leftover.unlink()
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (self.parts / MANIFEST).write_text(text, encoding="utf-8")
        if self.destination.exists() or self.destination.is_symlink():
            _check_existing(self.destination, overwrite=self.overwrite)
            self.destination.rename(self.root / "previous")
        self.parts.rename(self.destination)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


def _replaceable(path: Path) -> bool:
    """An empty directory, or one holding a scoring job's manifest."""
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / MANIFEST).is_file() or not any(path.iterdir())
