"""Applying rendered manifests with kubectl, when there is a cluster to apply them to.

kubectl is optional: without it, or without a current context, a deployment
stops after writing its manifests and says how to apply them. With one, the
context is read once and pinned with ``--context``, so the apply goes to the
cluster the command reported even if the kubeconfig changes meanwhile.
Arguments are a list (no shell), and every call has a timeout, so an
unreachable cluster fails within a bounded time, naming the context.
"""

import shutil
import subprocess  # nosec B404 - runs kubectl with fixed arguments only
from dataclasses import dataclass
from pathlib import Path

from . import DeploymentError

CONTEXT_TIMEOUT = 15
APPLY_TIMEOUT = 300
#: What kubectl itself waits for the API server, per request.
REQUEST_TIMEOUT = "60s"


@dataclass(frozen=True)
class Cluster:
    """A kubectl binary and the context it applies to."""

    kubectl: str
    context: str


def find_cluster() -> tuple[Cluster | None, str]:
    """The kubectl binary and its current context, or ``None`` and why there is none."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None, "kubectl not found"
    try:
        result = subprocess.run(  # noqa: S603  # nosec B603 - fixed arguments, no shell
            [kubectl, "config", "current-context"],
            capture_output=True,
            text=True,
            timeout=CONTEXT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, "kubectl did not answer"
    context = result.stdout.strip()
    if result.returncode != 0 or not context:
        return None, "kubectl has no current context"
    return Cluster(kubectl, context), ""


def apply(cluster: Cluster, manifests: Path, *, cwd: Path) -> list[str]:
    """``kubectl apply -f <manifests>`` on the cluster's context; kubectl's output lines.

    Raises:
        DeploymentError: kubectl failed or timed out.
    """
    shown = manifests.relative_to(cwd).as_posix()
    command = [
        cluster.kubectl,
        "--context",
        cluster.context,
        f"--request-timeout={REQUEST_TIMEOUT}",
        "apply",
        "-f",
        shown,
    ]
    try:
        result = subprocess.run(  # noqa: S603  # nosec B603 - fixed arguments, no shell
            command, cwd=cwd, capture_output=True, text=True, timeout=APPLY_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise DeploymentError(
            f"kubectl apply to context {cluster.context!r} did not finish within "
            f"{APPLY_TIMEOUT} s; check the cluster, then deploy again."
        ) from None
    except OSError as exc:
        raise DeploymentError(f"kubectl could not run: {exc}.") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise DeploymentError(
            f"kubectl apply -f {shown} failed on context {cluster.context!r} (exit "
            f"{result.returncode}): {lines[0][:300]}"
        )
    return result.stdout.strip().splitlines()
