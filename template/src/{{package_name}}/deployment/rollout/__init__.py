"""``just rollout``: a canary stepped through production traffic, judged at every step.

The pieces are small and one-way: :mod:`.verdicts` judges one step's
measurements against the objectives (pure), :mod:`.measure` gets those
measurements from Prometheus through :mod:`.prometheus`, :mod:`.walker`
steps the traffic and decides what happens next (pure, given its
collaborators), and :mod:`.command` wires them to the registry (gates,
audit trail), the deploy code (render and apply) and the model card.
"""

from .. import DeploymentError


class RolloutError(DeploymentError):
    """A rollout could not start or go on (no Prometheus, wrong version or settings)."""
