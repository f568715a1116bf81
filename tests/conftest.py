"""Shared helpers: render the template with copier, and install generated projects once.

Projects are rendered with ``unsafe=False`` everywhere, which proves the
template needs no ``--trust``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import run_copy
from environment import subprocess_env as subprocess_env  # re-exported to the tests

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
ANSWERS_DIR = Path(__file__).parent / "answers"
ANSWER_SETS = sorted(path.stem for path in ANSWERS_DIR.glob("*.yml"))


#: The work unit of every test module that uses ``trained_project``: one xdist worker
#: runs them all, so the trained project (an install, a pipeline run and a promotion)
#: is built once per run, not once per worker.
TRAINED_GROUP = "trained-project"
_USES_TRAINED_PROJECT = re.compile(r"\btrained_project: InstalledProject\b")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadfile``: one module per unit of work, trained-project modules in one.

    xdist's own ``loadgroup`` cannot merge modules under pytest 9 (its node-id suffix is
    dropped), so the grouping is a scheduler: a module is one unit of work (its
    module-scoped projects are installed once), and the modules sharing the session's
    trained project are one unit between them.
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TrainedProjectTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return TRAINED_GROUP if _uses_trained_project(module) else module

    return TrainedProjectTogether(config, log)


@functools.cache
def _uses_trained_project(module: str) -> bool:
    path = Path(module) if Path(module).is_absolute() else TEMPLATE_ROOT / module
    return path.is_file() and bool(_USES_TRAINED_PROJECT.search(path.read_text()))


def load_answers(name: str) -> dict[str, Any]:
    """Answers of one supported combination (``tests/answers/<name>.yml``)."""
    data = yaml.safe_load((ANSWERS_DIR / f"{name}.yml").read_text()) or {}
    assert isinstance(data, dict)
    return data


def run(
    args: list[str], cwd: Path, *, check: bool = True, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a command in ``cwd``; on failure show its output in the assertion."""
    result = subprocess.run(
        args,
        cwd=cwd,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` failed in {cwd} with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now (for test servers)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_logged(
    args: list[str], cwd: Path, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a server in its own process group, its output in ``log``.

    Stop it with :func:`stop_process_group`: servers fork (MLflow's workers, just's
    recipes), and only the group reaches every process.
    """
    with log.open("w") as output:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env=subprocess_env(env or {}),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def stop_process_group(process: subprocess.Popen[Any]) -> None:
    """Stop a server started with ``start_new_session=True``: its whole group, then reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def render(
    dst: Path, answers: Mapping[str, Any] | None = None, *, src: Path = TEMPLATE_ROOT, **kwargs: Any
) -> Path:
    """Render the template (working tree, dirty changes included) into ``dst``."""
    run_copy(
        str(src),
        dst,
        data=dict(answers or {}),
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref=kwargs.pop("vcs_ref", "HEAD"),
        **kwargs,
    )
    return dst


def git_commit_all(project: Path, message: str = "chore: generate project") -> None:
    """Initialise git (if needed) and commit everything, as a user would after copying."""
    if not (project / ".git").exists():
        run(["git", "init", "--quiet", "--initial-branch=main"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "--quiet", "--no-verify", "-m", message], project)


@dataclass(frozen=True)
class InstalledProject:
    """A generated project that has been committed and `just install`-ed."""

    name: str
    path: Path
    answers: dict[str, Any]

    @property
    def package(self) -> str:
        """Import name of the generated package."""
        data = yaml.safe_load((self.path / ".copier-answers.yml").read_text())
        return str(data["package_name"])

    def just(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the project's own just recipes."""
        return run(["just", *args], self.path, check=check, timeout=timeout)


@pytest.fixture(scope="session")
def installed_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory: generate, commit and install one answer set, once per session and purpose.

    Tests that change a project's state (pipeline runs, registry operations)
    ask for their own ``purpose`` so they never depend on each other's order.
    """
    cache: dict[tuple[str, str], InstalledProject] = {}

    def get(name: str, purpose: str = "e2e") -> InstalledProject:
        key = (name, purpose)
        if key not in cache:
            answers = load_answers(name)
            path = render(tmp_path_factory.mktemp(f"{purpose}-{name}") / "project", answers)
            git_commit_all(path)
            project = InstalledProject(name=name, path=path, answers=answers)
            project.just("install")
            # Commit the lock file too, so the tree is clean and lineage gates can pass.
            git_commit_all(path, "build: lock dependencies")
            cache[key] = project
        return cache[key]

    yield get
    for project in cache.values():
        shutil.rmtree(project.path, ignore_errors=True)


@pytest.fixture(scope="session")
def trained_project(installed_project: Any) -> InstalledProject:
    """The default project after one `just pipeline` and a promotion: 1.0.0 is the champion.

    Shared, read-only: tests that export, serve, build images, render manifests or
    run drift checks (which add tags and reports, never a stage change) use it; tests
    that change stages ask ``installed_project`` for their own.
    """
    project: InstalledProject = installed_project("defaults", "trained")
    project.just("pipeline")
    git_commit_all(project.path, "chore: record pipeline run")
    project.just("models", "promote", "1.0.0", "production", "first release")
    return project
