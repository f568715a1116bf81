"""The interface every compute backend implements, and the choice between them.

A backend maps a task function over items and yields the results in the
items' order, with a bounded number of tasks in flight: a million-row
partition's output is written by its task, and only small summaries travel
back, so the driver's memory does not grow with the job. Task functions must
be importable module-level functions of this package (Dask workers and local
processes import them by name).
"""

from __future__ import annotations

import os
import pickle  # nosec B403 - loads only the stash files this package writes
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from ..errors import ProjectError

if TYPE_CHECKING:
    from types import TracebackType

    from ..config import ComputeConfig

Item = TypeVar("Item")
Result = TypeVar("Result")
Result_co = TypeVar("Result_co", covariant=True)
#: Overrides ``compute.backend`` and ``compute.scheduler``: the cluster to use.
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


class ComputeError(ProjectError):
    """A task failed, a worker died, or the cluster could not be reached."""


class TaskFuture(Protocol[Result_co]):
    """What both backends hand back for a submitted task (a stdlib or a Dask future)."""

    def result(self) -> Result_co:
        """Wait for the task; its result, or its exception raised here."""

    def cancel(self) -> Any:
        """Drop the task if it has not run yet."""


class ComputeBackend(ABC):
    """Runs independent tasks; the results come back in the order of their items."""

    #: Tasks that may run at once; ``map`` keeps twice as many submitted.
    workers: int

    @abstractmethod
    def _submit(
        self, function: Callable[..., Result], item: Item, shared: object
    ) -> TaskFuture[Result]:
        """Start the task somewhere (see :func:`single_threaded`); the future holds its result."""

    @abstractmethod
    def _share(self, value: object) -> object:
        """Hand ``value`` to every task once; what the tasks receive to get it back."""

    @abstractmethod
    def _unshare(self, handle: object) -> None:
        """Release what :meth:`_share` made, once the tasks are done."""

    @abstractmethod
    def _failure(self, exc: BaseException, label: str) -> ComputeError:
        """One line for a task that failed other than with a :class:`ProjectError`."""

    @abstractmethod
    def close(self) -> None:
        """Release workers and connections (idempotent)."""

    def describe(self) -> str:
        """Where the tasks run, for progress lines and the tracking run."""
        return type(self).__name__

    def map(
        self,
        function: Callable[..., Result],
        items: Iterable[Item],
        *,
        label: Callable[[Item], str] = str,
        shared: object = None,
    ) -> Iterator[Result]:
        """``function`` over ``items``, results in item order, ``2 x workers`` in flight.

        Items are consumed lazily, so a generator that reads a large file chunk by
        chunk is read only as fast as the tasks finish. With ``shared`` (the
        training data of a search), each task is ``function(shared, item)`` and
        ``shared`` travels to each worker once, not with every task.

        Raises:
            ProjectError: a task raised one (a bad partition names itself); raised as is.
            ComputeError: a task failed otherwise, or its worker died; the message
                names the task (``label(item)``) and the cause in one line.
        """
        pending: deque[tuple[str, TaskFuture[Result]]] = deque()
        source = iter(items)
        window = max(2, 2 * self.workers)
        handle = None if shared is None else self._share(shared)
        try:
            while True:
                while len(pending) < window:
                    item = next(source, _DONE)
                    if item is _DONE:
                        break
                    pending.append((label(item), self._submit(function, item, handle)))
                if not pending:
                    return
                name, future = pending.popleft()
                yield self._result(name, future)
        finally:
            for _, future in pending:
                future.cancel()
            if handle is not None:
                self._unshare(handle)

    def _result(self, name: str, future: TaskFuture[Result]) -> Result:
        try:
            return future.result()
        except ProjectError:
            raise
        except Exception as exc:  # every other failure becomes one line
            raise self._failure(exc, name) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


_DONE: Any = object()


def single_threaded(function: Callable[..., Any], item: Any, shared: object = None) -> Any:
    """Run a task (``function(item)``, or ``function(shared, item)``) with one BLAS thread.

    Dask's workers start with one BLAS/OpenMP thread; local tasks are limited
    the same way, so a fit gives the same floating-point result on either
    backend (and tasks running side by side do not oversubscribe the cores).
    """
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - scikit-learn's dependency

    with threadpool_limits(limits=1):
        try:
            if shared is None:
                return function(item)
            if isinstance(shared, Stashed):
                shared = shared.load()
            return function(shared, item)
        except ProjectError as exc:
            # The message says it all; the chained library errors and the traceback would
            # only travel back from a worker (and some do not survive pickling).
            exc.__cause__ = exc.__context__ = None
            raise exc.with_traceback(None) from None


@dataclass(frozen=True)
class Stashed:
    """A value pickled to a file once, for local worker processes to load once each."""

    path: Path

    def load(self) -> object:
        """The value; read from the file on a process's first task, then kept."""
        if _STASH_CACHE.get("path") != self.path:
            with self.path.open("rb") as handle:
                value = pickle.load(handle)  # noqa: S301  # nosec B301 - written by this package
            _STASH_CACHE.update(path=self.path, value=value)
        return _STASH_CACHE["value"]


#: The last stashed value this process loaded (one search's data at a time).
_STASH_CACHE: dict[str, Any] = {}


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``: a remote traceback reduced to what matters."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def scheduler_address(config: ComputeConfig) -> str | None:
    """The cluster to use: ``$DASK_SCHEDULER_ADDRESS``, else ``compute.scheduler`` (or none)."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or config.scheduler


def warm_up(config: ComputeConfig, module: str) -> None:
    """Start readying local worker processes for tasks from ``module``, without waiting.

    A command calls this before it loads its own libraries: the fork server
    imports ``module`` on the other core meanwhile, so the workers the job
    forks later start ready (about half a second of a scoring job on two
    cores). Nothing happens for one worker or a Dask cluster.
    """
    if scheduler_address(config) is None and config.backend == "local" and config.workers > 1:
        from .local import start_fork_server  # noqa: PLC0415

        start_fork_server(module)


def open_backend(config: ComputeConfig) -> ComputeBackend:
    """The backend ``compute:`` asks for; ``$DASK_SCHEDULER_ADDRESS`` takes precedence.

    ``dask`` without an address starts a loopback cluster of ``compute.workers``
    processes for this command; an address connects to a running cluster.

    Raises:
        ComputeError: the scheduler at the address does not answer.
    """
    address = scheduler_address(config)
    if address is not None or config.backend == "dask":
        from .cluster import DaskBackend  # noqa: PLC0415 - Dask only when it is used

        return DaskBackend.connect(config, address)
    from .local import LocalBackend  # noqa: PLC0415

    return LocalBackend(config.workers)
