"""The card's words: intended use and limitations from the user-owned ``model-card.yaml``.

The registry knows numbers, not purpose. Who may rely on the model, for what,
and where it must not be used is written by people, once, in a file the
template creates and ``copier update`` never touches again.
"""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError

NARRATIVE_FILE = "model-card.yaml"


class Narrative(BaseModel):
    """What ``model-card.yaml`` holds; unknown keys are refused so a typo is not lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    overview: str = Field(min_length=1)
    intended_use: list[str] = Field(min_length=1)
    out_of_scope: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(min_length=1)
    ethical_considerations: list[str] = Field(default_factory=list)
    contact: str = ""


def load_narrative(root: Path) -> Narrative:
    """Read and validate ``model-card.yaml`` in the project ``root``.

    Raises:
        ConfigError: the file is missing, is not YAML, or a key is missing, unknown or mistyped.
    """
    path = root / NARRATIVE_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing: it holds the model card's intended use and limitations. "
            "`copier update` recreates the template's version, or write one with the keys "
            "overview, intended_use and limitations."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return Narrative.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"{path}: {problems}. Accepted keys: {', '.join(Narrative.model_fields)}."
        ) from None
