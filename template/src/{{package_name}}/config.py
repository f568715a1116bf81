"""Typed view of ``params.yaml``.

The pipeline reads its parameters only through these models, so a typo or a
wrong type in ``params.yaml`` fails at start-up with the offending key named,
not minutes later inside a library call.
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

Task = Literal["classification", "regression"]


class _Strict(BaseModel):
    """Reject unknown keys so misspelt parameters are reported, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Which dataset to load and how much of it is required."""

    dataset: str = Field(min_length=1)
    target: str = Field(default="target", min_length=1)
    min_rows: int = Field(default=100, ge=1)


class SplitConfig(_Strict):
    """Hold-out split; a fixed seed keeps every run comparable."""

    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 42


class ModelConfig(_Strict):
    """The strategy to train (``kind``) and its hyper-parameters."""

    kind: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class Params(_Strict):
    """Everything ``params.yaml`` may contain."""

    task: Task
    data: DataConfig
    split: SplitConfig = SplitConfig()
    model: ModelConfig


def load_params(path: Path) -> Params:
    """Read and validate a parameters file.

    Raises:
        ConfigError: the file is missing, is not YAML, or breaks the schema.
    """
    if not path.is_file():
        raise ConfigError(
            f"Parameters file not found: {path}. Run from the project root or pass --params."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must contain a mapping of parameters, got {type(raw).__name__}.")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"Invalid parameters in {path}: {problems}") from exc
