"""What every benchmark shares: the environment commands run in, and how they are timed.

The environment matches ``tests/conftest.py``: no telemetry or analytics, a fixed git
identity, the template's own venv (uv, just) first on PATH, and none of the template's
interpreter choice leaking into a generated project (a pyenv ``uv`` shim breaks in
directories with a ``.python-version``).
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

QUIET_ENV = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "GIT_AUTHOR_NAME": "Template Benchmarks",
    "GIT_AUTHOR_EMAIL": "template-benchmarks@example.com",
    "GIT_COMMITTER_NAME": "Template Benchmarks",
    "GIT_COMMITTER_EMAIL": "template-benchmarks@example.com",
    "UV_NO_PROGRESS": "1",
    "PRE_COMMIT_COLOR": "never",
}
LEAKED_ENV = ("VIRTUAL_ENV", "PYENV_VERSION", "PYENV_DIR", "UV_RUN_RECURSION_DEPTH")


class BenchmarkError(RuntimeError):
    """A command the benchmark depends on failed."""


class Timing(NamedTuple):
    """One finished command: wall time, CPU time of its process tree, and its stdout."""

    wall: float
    cpu: float
    stdout: str


def command_env(*, bytecode_cache: bool) -> dict[str, str]:
    """Environment every command in a generated project runs with.

    Args:
        bytecode_cache: let Python write ``__pycache__`` (a developer machine); when
            false, force ``PYTHONDONTWRITEBYTECODE=1`` so every process compiles from source.
    """
    env = {**os.environ, **QUIET_ENV}
    for name in LEAKED_ENV:
        env.pop(name, None)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = os.pathsep.join([str(TEMPLATE_ROOT / ".venv" / "bin"), env.get("PATH", "")])
    return env


def children_cpu() -> float:
    """User + system CPU seconds of every finished, waited-for descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    *,
    timeout: float,
    merge_stderr: bool = False,
) -> Timing:
    """Run ``args`` in ``cwd``; return its wall time, CPU time and stdout.

    CPU time counts every descendant that was waited for (just -> uv -> dvc -> stages).
    ``merge_stderr`` folds stderr into the returned output (pre-commit, just's echo).

    Raises:
        BenchmarkError: the command exited with a non-zero status.
    """
    cpu_start = children_cpu()
    start = time.perf_counter()
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - start
    cpu = children_cpu() - cpu_start
    if result.returncode != 0:
        stderr = result.stderr or ""
        raise BenchmarkError(
            f"`{' '.join(args)}` failed in {cwd} with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{stderr[-4000:]}"
        )
    return Timing(elapsed, cpu, result.stdout)


def machine_info() -> dict[str, object]:
    """The machine a result comes from: CPUs, platform, Python, 1-minute load average."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def template_revision() -> str:
    """The template's short commit, with " with working-tree changes" when the tree is dirty."""
    env = command_env(bytecode_cache=True)
    commit = run(["git", "rev-parse", "--short", "HEAD"], TEMPLATE_ROOT, env, timeout=60)
    status = run(["git", "status", "--porcelain"], TEMPLATE_ROOT, env, timeout=60)
    dirty = " with working-tree changes" if status.stdout.strip() else ""
    return commit.stdout.strip() + dirty
