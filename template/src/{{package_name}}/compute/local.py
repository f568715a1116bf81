"""Tasks in local worker processes: the default backend, on one machine.

One worker runs tasks in this process (nothing to start, the fastest for
small jobs and tests). More start that many processes through a fork server:
each is forked from a clean process that has imported the task's module, so
workers start quickly and inherit none of this process's threads or state.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import pickle  # nosec B403 - writes a stash for this package's own workers
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .backend import (
    ComputeBackend,
    ComputeError,
    Item,
    Result,
    Stashed,
    first_line,
    single_threaded,
)


class LocalBackend(ComputeBackend):
    """``compute.workers`` local processes (or this process, for one)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def describe(self) -> str:
        """``local (N processes)``, or ``local (this process)`` for one worker."""
        return "local (this process)" if self.workers == 1 else f"local ({self.workers} processes)"

    def _submit(
        self, function: Callable[..., Result], item: Item, shared: object
    ) -> Future[Result]:
        if self.workers == 1:
            done: Future[Result] = Future()
            try:
                done.set_result(single_threaded(function, item, shared))
            except Exception as exc:  # delivered through the future, as by a pool
                done.set_exception(exc)
            return done
        if self._pool is None:
            context = _context(function.__module__)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool.submit(single_threaded, function, item, shared)

    def _share(self, value: object) -> object:
        """In this process: the value itself; for worker processes: a file each loads once."""
        if self.workers == 1:
            return value
        handle, name = tempfile.mkstemp(prefix="shared-", suffix=".pickle")
        with os.fdopen(handle, "wb") as stash:
            pickle.dump(value, stash, protocol=pickle.HIGHEST_PROTOCOL)
        return Stashed(Path(name))

    def _unshare(self, handle: object) -> None:
        if isinstance(handle, Stashed):
            handle.path.unlink(missing_ok=True)

    def _failure(self, exc: BaseException, label: str) -> ComputeError:
        if isinstance(exc, BrokenProcessPool):
            return ComputeError(
                f"{label}: a local worker process died (killed, or out of memory); "
                "nothing was written"
            )
        return ComputeError(f"{label} failed: {first_line(exc)}")

    def close(self) -> None:
        """Stop the worker processes, dropping tasks not started yet."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def start_fork_server(module: str) -> None:
    """Start the fork server, importing ``module``, and return at once (see ``warm_up``)."""
    if _context(module).get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def _context(module: str) -> multiprocessing.context.BaseContext:
    """A fork server that has imported ``module``, where the platform has one."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([module])
    return context
