"""Deployment: KServe manifests for a registered version, rendered from ``infra/``.

It stands on ``registry/`` (which version may run where), ``config``,
``paths`` and ``errors``, never on ``pipeline/`` or ``serving/``: deploying
only needs to know which image runs which version, not how it was trained or
served. kubectl is the one tool it needs: ``kubectl kustomize`` (Kustomize,
bundled in kubectl) renders the manifests from ``infra/`` without a cluster,
and they are applied only when kubectl has a cluster to talk to.
"""

from ..errors import ProjectError


class DeploymentError(ProjectError):
    """A deployment was refused (wrong version for the environment, bad option or manifest)."""
