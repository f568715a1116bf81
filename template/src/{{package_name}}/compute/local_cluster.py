"""A Dask cluster on this machine, started with Dask's own CLI: ``cluster up/down/status``.

``just cluster-up`` gives the project a scheduler and workers that outlive one
command, on loopback only, so that tuning, scoring and drift checks in several
commands (or several terminals) share them through ``DASK_SCHEDULER_ADDRESS``.
Each process is started in a process group of its own (a worker's nanny and
the worker process it forks share one) and recorded in ``build/cluster/``:
``<name>.pid`` holds the PID and the exact command, ``<name>.log`` its output,
``address`` the scheduler's address. ``down`` signals exactly those groups,
nothing found by name. A record whose process has exited, or whose PID now
belongs to another program (its command line is not the recorded one), is
stale: it is removed and never signalled.

Importing this module costs nothing: ``distributed`` is imported only while
``up`` waits for the workers to join.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess  # nosec B404 - starts Dask's CLI and ps with arguments built here
import sys
import threading
import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .backend import SCHEDULER_ENV, ComputeError, first_line

if TYPE_CHECKING:
    from ..commands import Handler, Subcommands
    from ..config import Params
    from ..paths import ProjectPaths

#: Where the records and logs live, relative to the project root (git-ignored).
CLUSTER_DIR = Path("build") / "cluster"
#: Dask's usual scheduler port; taken when free and ``$DASK_SCHEDULER_PORT`` is unset.
DEFAULT_PORT = 8786
PORT_ENV = "DASK_SCHEDULER_PORT"
MAX_PORT = 65535
#: As many as ``compute.workers`` allows.
MAX_WORKERS = 1024
#: Seconds ``up`` waits for the scheduler to listen and every worker to join.
START_TIMEOUT = 120.0
#: Seconds ``down`` waits after SIGTERM before it sends SIGKILL.
STOP_TIMEOUT = 20.0
#: Seconds to wait for a process group to vanish after SIGKILL.
KILL_GRACE = 5.0
LOOPBACK = "127.0.0.1"
#: Where command lines are read; without it (macOS) ``ps`` is asked.
PROC = Path("/proc")
EXIT_NOT_RUNNING = 1


@dataclass(frozen=True)
class Process:
    """One recorded process group: its leader's PID and the command it was started with."""

    name: str
    pid: int
    command: tuple[str, ...]

    def running(self) -> bool:
        """Whether the PID still runs the recorded command (not exited, not reused)."""
        live = command_line(self.pid)
        return live is not None and live.endswith(" ".join(self.command))

    def group_alive(self) -> bool:
        """Whether any process of its group is left (a worker outlives a killed nanny)."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal(self, number: signal.Signals) -> None:
        """Send ``number`` to the whole group; a group that is gone already is fine."""
        try:
            os.killpg(self.pid, number)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            raise ComputeError(
                f"{self.name} (pid {self.pid}) may not be signalled by this user ({exc})"
            ) from None


def command_line(pid: int) -> str | None:
    """The command line ``pid`` runs, space-joined; ``None`` if it has exited (or is a zombie)."""
    if PROC.is_dir():
        try:
            raw = (PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            return None
        return " ".join(raw.decode(errors="replace").split("\0")).strip() or None
    result = subprocess.run(  # noqa: S603  # nosec B603 B607 - ps with a number as argument
        ["ps", "-o", "args=", "-p", str(pid)],  # noqa: S607 - ps from PATH, as a shell would
        capture_output=True,
        text=True,
        check=False,
    )
    text = result.stdout.strip()
    return text if text and "<defunct>" not in text else None


@dataclass(frozen=True)
class Started:
    """What ``up`` started: the scheduler's address and the worker count."""

    address: str
    workers: int


@dataclass(frozen=True)
class Stopped:
    """What ``down`` found: processes stopped, killed after the timeout, stale records."""

    address: str | None
    stopped: tuple[Process, ...]
    killed: tuple[Process, ...]
    stale: tuple[Process, ...]


class LocalCluster:
    """The cluster recorded in one directory (``build/cluster`` of a project)."""

    def __init__(self, directory: Path, *, dask: Path | None = None) -> None:
        self.directory = directory
        #: Dask's CLI from this environment (the project's venv), never one found on PATH.
        self.dask = dask or Path(sys.executable).with_name("dask")

    @property
    def address_file(self) -> Path:
        """The scheduler's address, for scripts: ``export DASK_SCHEDULER_ADDRESS=$(cat ...)``."""
        return self.directory / "address"

    @property
    def scheduler_file(self) -> Path:
        """Written by the scheduler once it listens (``--scheduler-file``): readiness and port."""
        return self.directory / "scheduler.json"

    def processes(self) -> list[Process]:
        """Every recorded process, the scheduler first; unreadable records count as gone."""
        found = []
        for record in sorted(self.directory.glob("*.pid")):
            try:
                data = json.loads(record.read_text())
                found.append(Process(record.stem, int(data["pid"]), tuple(data["command"])))
            except (OSError, ValueError, KeyError, TypeError):
                record.unlink(missing_ok=True)
        return sorted(found, key=lambda process: process.name != "scheduler")

    def address(self) -> str | None:
        """The recorded scheduler address, if any."""
        try:
            return self.address_file.read_text().strip() or None
        except OSError:
            return None

    def up(self, workers: int, memory_limit: str, *, timeout: float = START_TIMEOUT) -> Started:
        """Start a scheduler and ``workers`` workers on loopback; wait until they all answer.

        Raises:
            ComputeError: a recorded cluster still runs; the port is taken; or a process
                exited or did not answer in time (everything started is stopped again).
        """
        running = [process for process in self.processes() if process.running()]
        if running:
            where = self.address() or "an unknown address"
            raise ComputeError(
                f"a Dask cluster is already running at {where} ({len(running)} recorded "
                "processes alive); stop it with `just cluster-down` first"
            )
        if not self.dask.is_file():
            raise ComputeError(
                f"{self.dask} not found: Dask comes with the lifecycle extra (`just install`)"
            )
        self._clear_records()
        self.directory.mkdir(parents=True, exist_ok=True)
        port = _scheduler_port()
        deadline = time.monotonic() + timeout
        started: list[tuple[Process, subprocess.Popen[bytes]]] = []
        try:
            started.append(self._start("scheduler", self._scheduler_command(port)))
            address = self._wait_for_scheduler(started[0], deadline)
            for number in range(1, workers + 1):
                command = self._worker_command(address, f"worker-{number}", memory_limit)
                started.append(self._start(f"worker-{number}", command))
            self._wait_for_workers(address, started, deadline)
        except BaseException:  # Ctrl-C included: nothing started may be left running
            _stop([process for process, _ in reversed(started)], STOP_TIMEOUT)
            self._clear_records()
            raise
        self.address_file.write_text(address + "\n")
        return Started(address, workers)

    def down(self, *, timeout: float = STOP_TIMEOUT) -> Stopped:
        """Stop every recorded process that still runs (workers first); drop the records."""
        address = self.address()
        processes = self.processes()
        alive = [process for process in processes if process.running()]
        stale = tuple(process for process in processes if process not in alive)
        workers = [process for process in alive if process.name != "scheduler"]
        schedulers = [process for process in alive if process.name == "scheduler"]
        # Workers first, so none of them logs a lost scheduler while it shuts down.
        killed = _stop(workers, timeout) + _stop(schedulers, timeout)
        self._clear_records()
        return Stopped(address, tuple(alive), tuple(killed), stale)

    def _start(self, name: str, command: Sequence[str]) -> tuple[Process, subprocess.Popen[bytes]]:
        """Start ``command`` in a new session (its own process group), logging to a file."""
        with (self.directory / f"{name}.log").open("wb") as log:
            popen = subprocess.Popen(  # noqa: S603  # nosec B603 - Dask's CLI, arguments built here
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # This process is its parent until it exits: reap the child as soon as it exits,
        # or its group would hold a zombie and look alive to `down` (in a notebook, say).
        threading.Thread(target=popen.wait, daemon=True).start()
        process = Process(name, popen.pid, tuple(command))
        record = {"pid": process.pid, "command": list(process.command)}
        (self.directory / f"{name}.pid").write_text(json.dumps(record) + "\n")
        return process, popen

    def _scheduler_command(self, port: int) -> list[str]:
        # --no-dashboard drops the web pages, not the HTTP server (/health, /metrics):
        # that one is kept on loopback too, on a port the system picks.
        return [
            str(self.dask),
            "scheduler",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--no-dashboard",
            "--dashboard-address",
            f"{LOOPBACK}:0",
            "--scheduler-file",
            str(self.scheduler_file),
        ]

    def _worker_command(self, address: str, name: str, memory_limit: str) -> list[str]:
        # One thread: a worker runs one task at a time, within compute.memory_per_task
        # (its nanny restarts it past that, and the scheduler reruns the task elsewhere).
        return [
            str(self.dask),
            "worker",
            address,
            "--name",
            name,
            "--nthreads",
            "1",
            "--memory-limit",
            memory_limit,
            "--host",
            LOOPBACK,
            "--no-dashboard",
            "--dashboard-address",
            f"{LOOPBACK}:0",
        ]

    def _wait_for_scheduler(
        self, started: tuple[Process, subprocess.Popen[bytes]], deadline: float
    ) -> str:
        """The scheduler's address, once it has written its scheduler file."""
        process, popen = started
        while True:
            _check_alive(process, popen, self.directory)
            try:
                address = str(json.loads(self.scheduler_file.read_text())["address"])
            except (OSError, ValueError, KeyError):
                address = ""
            if address:
                return address
            if time.monotonic() > deadline:
                raise ComputeError(
                    f"the Dask scheduler did not listen in time; see {self._log(process)}"
                )
            time.sleep(0.2)

    def _wait_for_workers(
        self,
        address: str,
        started: list[tuple[Process, subprocess.Popen[bytes]]],
        deadline: float,
    ) -> None:
        """Return once every worker started has joined the scheduler."""
        from distributed import Client  # noqa: PLC0415 - only while a cluster starts

        wanted = len(started) - 1
        remaining = max(1.0, deadline - time.monotonic())
        try:
            client = Client(address, timeout=remaining, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ComputeError(
                f"the Dask scheduler at {address} does not answer ({first_line(exc)}); "
                f"see {self._log(started[0][0])}"
            ) from None
        with client:
            while len(client.nthreads()) < wanted:
                for process, popen in started:
                    _check_alive(process, popen, self.directory)
                if time.monotonic() > deadline:
                    joined = len(client.nthreads())
                    raise ComputeError(
                        f"{joined} of {wanted} Dask workers joined in time; see the worker "
                        f"logs in {_shown(self.directory)}"
                    )
                time.sleep(0.25)

    def _log(self, process: Process) -> Path:
        return _shown(self.directory / f"{process.name}.log")

    def _clear_records(self) -> None:
        """Forget the cluster (its logs stay until the next ``up``)."""
        for record in self.directory.glob("*.pid"):
            record.unlink(missing_ok=True)
        self.address_file.unlink(missing_ok=True)
        self.scheduler_file.unlink(missing_ok=True)


def _check_alive(process: Process, popen: subprocess.Popen[bytes], directory: Path) -> None:
    """Raise, naming the process and its log's last line, if it has exited."""
    code = popen.poll()
    if code is None:
        return
    log = _shown(directory / f"{process.name}.log")
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    last = lines[-1].strip()[:300] if lines else "no output"
    raise ComputeError(f"the Dask {process.name} exited with status {code}: {last} (see {log})")


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory (the project root, for the recipes)."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def _stop(processes: Sequence[Process], timeout: float) -> list[Process]:
    """SIGTERM each group, SIGKILL what is left after ``timeout``; the killed ones."""
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(process.group_alive() for process in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    stubborn = [process for process in processes if process.group_alive()]
    for process in stubborn:
        process.signal(signal.SIGKILL)
    deadline = time.monotonic() + KILL_GRACE
    while any(process.group_alive() for process in stubborn) and time.monotonic() < deadline:
        time.sleep(0.1)
    return stubborn


def _scheduler_port() -> int:
    """``$DASK_SCHEDULER_PORT`` (which must be free), else 8786 if free, else any (0).

    Raises:
        ComputeError: the variable is not a port number, or its port is taken.
    """
    value = os.environ.get(PORT_ENV, "").strip()
    if not value:
        return DEFAULT_PORT if _port_free(DEFAULT_PORT) else 0
    if not value.isdigit() or not 0 < int(value) <= MAX_PORT:
        raise ComputeError(f"{PORT_ENV} must be a port number (1-{MAX_PORT}); got {value!r}")
    if not _port_free(int(value)):
        raise ComputeError(
            f"port {value} ({PORT_ENV}) is in use on {LOOPBACK}; choose another, or unset "
            f"{PORT_ENV} to take {DEFAULT_PORT} or any free port"
        )
    return int(value)


def _port_free(port: int) -> bool:
    """Whether the scheduler could listen on ``port`` (it sets SO_REUSEADDR too)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


# -- command line ---------------------------------------------------------------------------


def add_cluster_commands(
    commands: Subcommands,
    handlers: MutableMapping[str, Handler],
) -> None:
    """Add ``cluster up|down|status`` to the CLI's subcommands and its handler to ``handlers``."""
    cluster = commands.add_parser(
        "cluster",
        help="a Dask scheduler and workers on this machine (loopback), recorded in build/cluster",
    )
    actions = cluster.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up", help="start a scheduler and workers; print the DASK_SCHEDULER_ADDRESS to export"
    )
    up.add_argument(
        "workers",
        nargs="?",
        type=_worker_count,
        default=None,
        help="worker processes, one task each (default: compute.workers)",
    )
    up.add_argument(
        "--timeout",
        type=float,
        default=START_TIMEOUT,
        help=f"seconds to wait for the scheduler and workers (default {START_TIMEOUT:.0f})",
    )
    down = actions.add_parser("down", help="stop the recorded scheduler and workers")
    down.add_argument(
        "--timeout",
        type=float,
        default=STOP_TIMEOUT,
        help=f"seconds between SIGTERM and SIGKILL (default {STOP_TIMEOUT:.0f})",
    )
    actions.add_parser(
        "status", help=f"say whether the recorded cluster runs (exit {EXIT_NOT_RUNNING} if not)"
    )
    handlers["cluster"] = _cluster


def _worker_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"expected a number of workers (1-{MAX_WORKERS}), got {text!r}"
        )
    return int(text)


def _cluster(args: argparse.Namespace, params: Params, paths: ProjectPaths) -> int:
    cluster = LocalCluster(paths.root / CLUSTER_DIR)
    where = CLUSTER_DIR.as_posix()
    if args.action == "up":
        workers = args.workers or params.compute.workers
        memory = params.compute.memory_per_task
        started = cluster.up(workers, memory, timeout=args.timeout)
        print(
            f"Dask scheduler at {started.address} with {_count(started.workers, 'worker')} "
            f"(1 thread, {memory} each; logs in {where}); stop it with `just cluster-down`"
        )
        print(f"export {SCHEDULER_ENV}={started.address}")
        return 0
    if args.action == "down":
        return _report_down(cluster.down(timeout=args.timeout), where)
    return _report_status(cluster, where)


def _report_down(result: Stopped, where: str) -> int:
    stale = f"; removed {_count(len(result.stale), 'stale record')}" if result.stale else ""
    if not result.stopped:
        print(f"no Dask cluster is running (nothing alive recorded in {where}){stale}")
        return 0
    workers = sum(process.name != "scheduler" for process in result.stopped)
    parts = ["scheduler"] if len(result.stopped) > workers else []
    parts += [_count(workers, "worker")] if workers else []
    killed = f"; {len(result.killed)} killed after SIGTERM timed out" if result.killed else ""
    print(f"stopped the Dask cluster at {result.address}: {' and '.join(parts)}{killed}{stale}")
    return 0


def _report_status(cluster: LocalCluster, where: str) -> int:
    processes = cluster.processes()
    alive = [process for process in processes if process.running()]
    if not alive:
        print(f"no Dask cluster is running (nothing alive recorded in {where})")
        return EXIT_NOT_RUNNING
    workers = [process for process in processes if process.name != "scheduler"]
    scheduler = "running" if any(p.name == "scheduler" for p in alive) else "NOT running"
    joined = sum(process in alive for process in workers)
    print(
        f"Dask cluster at {cluster.address() or 'an unknown address'}: scheduler {scheduler}, "
        f"{joined} of {len(workers)} workers running"
    )
    return 0 if len(alive) == len(processes) else EXIT_NOT_RUNNING


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
