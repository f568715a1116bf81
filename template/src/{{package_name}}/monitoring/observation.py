"""What one monitoring window saw: the facts the retraining policy decides on.

One call of ``just retrain [batch]`` is one window. The command gathers the
facts (the drift check of the batch, the champion's score on it when the
batch has labels, the champion's age, a ``--force`` flag) into an
:class:`Observation`; the policy never reads files, the registry or the clock
itself, so it is tested by building observations directly.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .drift import DriftReport, Verdict


@dataclass(frozen=True)
class DriftWindow:
    """The drift check of one batch, reduced to what the policy and the tags need."""

    verdict: "Verdict"
    #: Features the check flagged as drifted, in the report's order.
    drifted: tuple[str, ...] = ()
    #: Effect sizes of the drifted features: ``{feature: {"psi": .., "ks": ..}}``.
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: "DriftReport") -> "DriftWindow":
        """Keep the verdict and the drifted features' PSI and KS statistic."""
        drifted = tuple(report.drifted_features())
        scores = {
            feature.name: {
                name: round(float(value), 4)
                for name, value in (("psi", feature.psi), ("ks", feature.ks_statistic))
                if value is not None
            }
            for feature in report.features
            if feature.name in drifted
        }
        return cls(verdict=report.verdict, drifted=drifted, scores=scores)


@dataclass(frozen=True)
class Observation:
    """Everything known at one window; ``None`` means "not observed this time"."""

    #: Semantic version of the champion being watched (``None``: production is empty).
    champion: str | None = None
    champion_registered_at: datetime | None = None
    #: The batch's drift check, when a batch was given.
    drift: DriftWindow | None = None
    #: The champion's score on the batch (``retraining.performance.metric``), when labelled.
    performance: float | None = None
    #: A business event asked for a retrain (``--force``), with its reason.
    forced: bool = False
    reason: str = ""
