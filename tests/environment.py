"""The environment every command of a generated project runs with, in tests and benchmarks.

One definition for both, so that a benchmark times what the tests prove works: no
telemetry or analytics, a fixed git identity, the template's own venv (uv, just) first on
PATH, none of the template's interpreter choice leaking into the generated project, and
bytecode caching as on a developer's machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

QUIET_ENV = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
    "UV_NO_PROGRESS": "1",
    "PRE_COMMIT_COLOR": "never",
}

# The template's own virtualenv, and the PYENV_VERSION a pyenv shim exports when it
# starts uv (which would hide every other pyenv Python from uv's discovery).
LEAKED_ENV = ("VIRTUAL_ENV", "PYENV_VERSION", "PYENV_DIR", "UV_RUN_RECURSION_DEPTH")


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment generated-project commands run with, plus ``extra``."""
    env = {**os.environ, **QUIET_ENV, **(extra or {})}
    for leaked in LEAKED_ENV:
        env.pop(leaked, None)
    # A developer's machine caches bytecode; without it every command in a generated
    # project compiles MLflow, scikit-learn and pandas from source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    venv_bin = str(TEMPLATE_ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    return env
