"""Tasks on a Dask cluster: a running one at an address, or a loopback one for this command.

Tasks are plain ``client.submit`` calls, one per candidate x fold or per
partition (not joblib's Dask backend, which ships every fit's data through
the scheduler). A worker that dies mid-task is replaced and its task rerun
by the scheduler; only a task that keeps killing workers fails the job.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backend import (
    SCHEDULER_ENV,
    ComputeBackend,
    ComputeError,
    Item,
    Result,
    TaskFuture,
    first_line,
    single_threaded,
)

if TYPE_CHECKING:
    from ..config import ComputeConfig

#: Seconds to wait for a scheduler to answer before naming it unreachable.
CONNECT_TIMEOUT = 5
#: Seconds to wait for a reachable scheduler to have at least one worker.
WORKER_TIMEOUT = 30
#: Items larger than this (``sys.getsizeof``) are scattered to a worker, not embedded in
#: the task: Dask warns about, and its scheduler copies, large task graphs.
LARGE_ITEM = 1 << 20


class DaskBackend(ComputeBackend):
    """A ``distributed.Client`` and, for a loopback cluster, the cluster it started."""

    def __init__(self, client: Any, cluster: Any, where: str) -> None:
        self._client = client
        self._cluster = cluster
        self._where = where
        threads = client.nthreads()
        self.workers = max(1, sum(threads.values()))

    @classmethod
    def connect(cls, config: ComputeConfig, address: str | None) -> DaskBackend:
        """Connect to ``address``, or start ``compute.workers`` loopback workers.

        Raises:
            ComputeError: nothing answers at ``address`` within a few seconds, or the
                scheduler there has no workers.
        """
        from distributed import Client, LocalCluster  # noqa: PLC0415

        # Dask logs its start-up and connections at INFO on its own loggers; show them only
        # when this command logs at INFO too (`--verbose`).
        logging.getLogger("distributed").setLevel(
            max(logging.WARNING, logging.getLogger().getEffectiveLevel())
        )
        if address is None:
            cluster = LocalCluster(
                n_workers=config.workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=config.memory_per_task,
                host="127.0.0.1",
                # No dashboard, and the scheduler's HTTP server on a free loopback port.
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.CRITICAL,
            )
            client = Client(cluster, set_as_default=False)
            return cls(client, cluster, f"dask (loopback, {config.workers} workers)")
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ComputeError(
                f"No Dask scheduler answers at {address} ({first_line(exc)}); start one with "
                f"`just cluster-up`, or fix {SCHEDULER_ENV} / compute.scheduler in params.yaml"
            ) from None
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            client.close()
            raise ComputeError(
                f"The Dask scheduler at {address} has no workers after {WORKER_TIMEOUT} s "
                f"({first_line(exc)}); start some with `just cluster-up`"
            ) from None
        return cls(client, None, f"dask at {address}")

    def describe(self) -> str:
        """Where the cluster is and how many tasks it runs at once."""
        return f"{self._where}, {self.workers} task slots"

    def _submit(
        self, function: Callable[..., Result], item: Item, shared: object
    ) -> TaskFuture[Result]:
        # A CSV chunk (MBs) goes straight to a worker, not through the scheduler's graph.
        payload = self._client.scatter(item) if _size(item) > LARGE_ITEM else item
        future: TaskFuture[Result] = self._client.submit(
            single_threaded, function, payload, shared, pure=False
        )
        return future

    def _share(self, value: object) -> object:
        """Copied to every worker once; a task given the future receives the value."""
        return self._client.scatter(value, broadcast=True, hash=False)

    def _unshare(self, handle: object) -> None:
        self._client.cancel([handle])

    def _failure(self, exc: BaseException, label: str) -> ComputeError:
        from distributed import KilledWorker  # noqa: PLC0415

        if isinstance(exc, KilledWorker):
            return ComputeError(
                f"{label}: its workers died each time it ran (killed, or over "
                "compute.memory_per_task); nothing was written"
            )
        return ComputeError(f"{label} failed on the cluster: {first_line(exc)}")

    def close(self) -> None:
        """Disconnect, and stop the loopback cluster if this command started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _size(item: object) -> int:
    """Bytes of an item and of its fields (a task dataclass holding a CSV chunk)."""
    fields = vars(item).values() if hasattr(item, "__dict__") else ()
    return sys.getsizeof(item) + sum(sys.getsizeof(value) for value in fields)
