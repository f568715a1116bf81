"""The model registry: register, promote, demote, archive, roll back, inspect.

:class:`ModelRegistry` is every lifecycle operation on one registered model,
assembled from one class per concern: :mod:`.reading` resolves versions and
reads their history, files and gates; :mod:`.registration` adds versions;
:mod:`.transitions` moves them between stages; :mod:`.drift_status` records
drift checks; :mod:`.rollout_events` records canary rollouts;
:mod:`.writing` holds what every change shares (the lock, the audit event,
the check afterwards). Below them :mod:`.store` talks to
MLflow, :mod:`.stages` holds the stage rules, :mod:`.gates` the promotion
gates, :mod:`.integrity` the artifact digests, :mod:`.audit` the trail and
what it implies, :mod:`.locking` the lock.
"""

from .audit import MAX_REASON_LENGTH
from .drift_status import DriftStatus
from .registration import Registration
from .rollout_events import RolloutEvents
from .stages import CHALLENGER, CHAMPION
from .transitions import StageTransitions

__all__ = ["CHALLENGER", "CHAMPION", "MAX_REASON_LENGTH", "ModelRegistry"]


class ModelRegistry(Registration, StageTransitions, DriftStatus, RolloutEvents):
    """Lifecycle operations on one registered model.

    ``ModelRegistry(paths, params)`` reads and writes through MLflow;
    :meth:`for_reading` reads the project's own store without it.
    """
