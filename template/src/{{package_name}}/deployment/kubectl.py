"""The kubectl a deployment needs: it renders every one, and applies it given a cluster.

Rendering needs kubectl but no cluster: ``kubectl kustomize`` runs the
Kustomize bundled in kubectl, the same code ``kubectl apply -k`` runs, so
what a deployment writes is what Kustomize makes of ``infra/`` rather than
what a re-implementation of it would. Without kubectl nothing can be
rendered, and the deployment stops before writing anything, saying so.

Applying needs a current context: without one, a deployment stops after
writing its manifests and says how to apply them. The context is read once
and pinned with ``--context``, so the apply goes to the cluster the command
reported even if the kubeconfig changes meanwhile. Arguments are a list (no
shell), and every call has a timeout, so an unreachable cluster fails within
a bounded time, naming the context.
"""

import itertools
import json
import re
import shutil
import subprocess  # nosec B404 - runs kubectl with fixed arguments only
from dataclasses import dataclass
from pathlib import Path

from . import DeploymentError

INSTALL_URL = "https://kubernetes.io/docs/tasks/tools/"
CONTEXT_TIMEOUT = 15
RENDER_TIMEOUT = 60
APPLY_TIMEOUT = 300
#: What kubectl itself waits for the API server, per request.
REQUEST_TIMEOUT = "60s"
_KLOG = re.compile(r'^[EWIF]\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=(?P<err>".*"|<)$')
#: Characters of kubectl's error a one-line message keeps.
_SHOWN_ERROR = 450


@dataclass(frozen=True)
class Cluster:
    """A kubectl binary and the context it applies to."""

    kubectl: str
    context: str


def locate() -> str:
    """The kubectl binary on ``PATH``.

    Raises:
        DeploymentError: there is none, naming where to get it.
    """
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise DeploymentError(
            "kubectl not found on PATH: `just deploy` renders the manifests with `kubectl "
            f"kustomize` (no cluster needed); install kubectl ({INSTALL_URL}) and deploy again."
        )
    return kubectl


def kustomize(kubectl: str, directory: Path, *, source: str) -> str:
    """``kubectl kustomize <directory>``: the multi-document YAML it renders.

    ``source`` names what is rendered (``infra/overlays/production``) in the error.

    Raises:
        DeploymentError: kubectl refused the tree (its first error line) or did not finish.
    """
    return _run(
        [kubectl, "kustomize", str(directory)],
        cwd=None,
        timeout=RENDER_TIMEOUT,
        late=f"kubectl kustomize did not render {source} within {RENDER_TIMEOUT} s.",
        failed=f"kubectl kustomize could not render {source}",
    )


def find_cluster(kubectl: str) -> tuple[Cluster | None, str]:
    """The current context of ``kubectl``, or ``None`` and why there is none."""
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
    output = _run(
        command,
        cwd=cwd,
        timeout=APPLY_TIMEOUT,
        late=f"kubectl apply to context {cluster.context!r} did not finish within "
        f"{APPLY_TIMEOUT} s; check the cluster, then deploy again.",
        failed=f"kubectl apply -f {shown} failed on context {cluster.context!r}",
    )
    return output.strip().splitlines()


def _run(command: list[str], *, cwd: Path | None, timeout: float, late: str, failed: str) -> str:
    """Run kubectl; its stdout, or one line: ``late`` on a timeout, ``failed`` + its error.

    Raises:
        DeploymentError: kubectl could not start, timed out or exited non-zero.
    """
    try:
        result = subprocess.run(  # noqa: S603  # nosec B603 - fixed arguments, no shell
            command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DeploymentError(late) from None
    except OSError as exc:
        raise DeploymentError(f"kubectl could not run: {exc}.") from None
    if result.returncode != 0:
        raise DeploymentError(
            f"{failed} (exit {result.returncode}): {_first_line(result.stderr or result.stdout)}"
        )
    return result.stdout


def _first_line(output: str) -> str:
    """The first error kubectl reports, on one line, without klog's prefix and quoting.

    Recent kubectl (1.32) reports a failed command through klog, as ``err="..."`` (quoted)
    or, for a message of several lines, ``err=<`` followed by indented lines.
    Kustomize nests its errors with the cause last, so a long one keeps both ends.
    """
    lines = output.strip().splitlines() or ["no output"]
    line = lines[0]
    logged = _KLOG.match(line)
    if logged and logged["err"] == "<":
        body = itertools.takewhile(lambda part: part.startswith("\t"), lines[1:])
        line = " ".join(part.strip() for part in body)
    elif logged:
        try:
            line = str(json.loads(logged["err"]))
        except ValueError:
            line = logged["err"]
    if len(line) > _SHOWN_ERROR:
        line = f"{line[: _SHOWN_ERROR // 3]} ... {line[-_SHOWN_ERROR * 2 // 3 :]}"
    return line
