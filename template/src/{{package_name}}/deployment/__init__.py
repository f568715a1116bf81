"""Deployment: KServe manifests for a registered version, rendered from ``infra/``.

It stands on ``registry/`` (which version may run where), ``config``,
``paths`` and ``errors``, never on ``pipeline/`` or ``serving/``: deploying
only needs to know which image runs which version, not how it was trained or
served. Kustomize and kubectl are optional on the machine: the manifests are
rendered here, in Python, from the same Kustomize tree that ``kubectl apply -k``
reads, and applied only when kubectl has a cluster to talk to.
"""

from ..errors import ProjectError


class DeploymentError(ProjectError):
    """A deployment was refused (wrong version for the environment, bad option or manifest)."""
