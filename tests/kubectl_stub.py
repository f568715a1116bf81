"""A stand-in for kubectl's cluster side: no Kubernetes API can exist here.

``kubectl kustomize`` needs no cluster, so the stub hands it to the real
kubectl and the manifests are really rendered; everything else is recorded
in ``calls.log``, a current context is answered, and each applied file is
kept as ``applied-<time>.yaml`` beside the log for the test to read.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

KUBECTL = shutil.which("kubectl")
NO_KUBECTL = "the template suite needs kubectl: `just deploy` renders with `kubectl kustomize`"


def fake_kubectl(tmp_path: Path) -> tuple[str, Path]:
    """The stub in ``tmp_path``: a ``PATH`` that finds it first, and its calls log."""
    assert KUBECTL, NO_KUBECTL
    bin_dir = tmp_path / "fake-kubectl"
    bin_dir.mkdir()
    log = bin_dir / "calls.log"
    script = bin_dir / "kubectl"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$1" in kustomize) exec "{KUBECTL}" "$@" ;; esac\n'
        f'printf "%s\\n" "$*" >> "{log}"\n'
        'case "$*" in\n'
        '  *"config current-context"*) echo fake-cluster ;;\n'
        f'  *apply*) for last; do :; done; cp "$last" "{bin_dir}/applied-$(date +%s%N).yaml";'
        ' echo "inferenceservice.serving.kserve.io/model configured" ;;\n'
        "esac\n"
    )
    script.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}", log
