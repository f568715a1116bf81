"""Atomic file writes: a crash never leaves a half-written output behind."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary sibling of ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: Path, produced_by: str) -> Any:
    """Read a JSON output of an earlier stage, naming that stage if it is missing."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing; run `{produced_by}` (or `just pipeline`) first.")
    return json.loads(path.read_text(encoding="utf-8"))
