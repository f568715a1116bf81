"""The registry's stage rules in a few lines of plain Python: what each operation should do.

Two model-based tests compare against it: ``test_stage_rules`` drives the
package's pure stage functions (``just check``), ``test_registry_model`` the
real MLflow registry (``just check-all``).
"""

from dataclasses import dataclass, field

#: Where the holder of a single-holder stage goes when another version enters it.
DISPLACED_TO = {"production": "archived", "staging": "development"}
#: One step down for ``demote``.
DEMOTED_TO = {"production": "staging", "staging": "development"}


@dataclass
class Reference:
    """What the registry should hold: stages, production history, corrupted versions."""

    stages: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    corrupted: set[str] = field(default_factory=set)

    def holder(self, stage: str) -> str | None:
        return next((v for v, s in self.stages.items() if s == stage), None)

    def enter(self, version: str, stage: str) -> None:
        holder = self.holder(stage) if stage in DISPLACED_TO else None
        if holder is not None and holder != version:
            self.stages[holder] = DISPLACED_TO[stage]
        self.stages[version] = stage

    def promote(self, version: str, to: str) -> bool:
        allowed = {"staging": {"development", "archived"}}.get(
            to, {"development", "staging", "archived"}
        )
        if self.stages[version] not in allowed or version in self.corrupted:
            return False
        self.enter(version, to)
        if to == "production":
            self.history = [v for v in self.history if v != version] + [version]
        return True

    def retire(self, version: str, to: str | None, force: bool) -> bool:
        stage = self.stages[version]
        if to is None or (stage == "production" and not force):
            return False
        self.enter(version, to)
        self.history = [v for v in self.history if v != version]
        return True

    def rollback(self) -> bool:
        champion = self.holder("production")
        earlier = (
            self.history[:-1] if self.history and self.history[-1] == champion else self.history
        )
        candidates = [v for v in reversed(earlier) if v != champion]
        if not candidates or candidates[0] in self.corrupted:
            return False
        target = candidates[0]
        self.enter(target, "production")
        self.history = self.history[: self.history.index(target) + 1]
        return True
