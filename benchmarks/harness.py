"""The one harness every benchmark uses: run and time, interleave, summarise, judge, record.

A benchmark states its measures, references and targets; this module does the rest, in the
tests' own environment (``tests/environment.py``). API and summary format: the README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar

import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = TEMPLATE_ROOT / "benchmarks" / "results"
PROBES = TEMPLATE_ROOT / "benchmarks" / "probes"  # programs run in a project's venv
MIB = 1 << 20
MEMORY_GUARD = 3 << 30  # a watched command is stopped when less memory than this is left
PAGE, TICKS = os.sysconf("SC_PAGESIZE"), os.sysconf("SC_CLK_TCK")
GIT_COMMIT = ("git", "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m")
BOUNDS = {"<=": "target_max", ">=": "target_min"}  # a target's operator: its key in a summary
T = TypeVar("T")

sys.path.insert(0, str(TEMPLATE_ROOT / "tests"))  # the one environment, shared with the tests
from environment import subprocess_env as subprocess_env  # noqa: E402  (for the scripts too)


class BenchmarkError(RuntimeError):
    """A command the benchmark depends on failed: the benchmark exits 1."""


class Timing(NamedTuple):
    """One finished (or stopped) command or call."""

    wall: float
    cpu: float  # user + system of the whole waited-for process tree
    stdout: str = ""
    peak_mib: float = 0.0  # peak RSS of the whole process tree, when watched
    driver_mib: float = 0.0  # peak RSS of its first Python process, when watched
    failure: str | None = None  # why it did not finish, when not checked


def children_cpu() -> float:
    """User + system CPU seconds of every finished, waited-for descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_tree(root: int) -> list[tuple[int, float, bool]]:
    """RSS bytes, CPU seconds and "is Python" of ``root`` and each live descendant, parents
    first. ``/proc/<pid>/task/*/children``: well under 1 ms; psutil's ``children()``: 6 ms."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        try:
            python = Path(f"/proc/{pid}/exe").readlink().name.startswith("python")
            for task in Path(f"/proc/{pid}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):  # it has just exited
            continue
        found.append((int(stat[21]) * PAGE, (int(stat[11]) + int(stat[12])) / TICKS, python))
    return found


@contextlib.contextmanager
def session(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], *, stdout: IO[Any],
    stderr: IO[Any] | int, grace: float = 0.0,
) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """``args`` in a session of its own, ended if it still runs on exit (SIGTERM and
    ``grace`` seconds first, then SIGKILL to the group: no child outlives it)."""
    process = subprocess.Popen(
        list(args), cwd=cwd, env=dict(env), stdout=stdout, stderr=stderr, start_new_session=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if grace:
                    os.killpg(process.pid, signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=grace)
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, *, timeout: float,
    watch: bool = False, check: bool = True,
) -> Timing:  # fmt: skip
    """Run ``args`` in its own session: wall and CPU time, output; with ``watch``, peak RSS
    every 50 ms, stopped when memory runs short. Past ``timeout``, short of memory or a
    non-zero exit: ``check`` raises, else the failure is returned (a reference that runs out
    of memory is a result)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        cpu_start, start, tree, driver, failure = children_cpu(), time.perf_counter(), 0, 0, None
        with session(args, cwd, env or subprocess_env(), stdout=out, stderr=err) as process:
            while failure is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.05 if watch else 1.0)
                    break
                if watch:
                    sizes = process_tree(process.pid)
                    tree = max(tree, sum(rss for rss, _, _ in sizes))
                    driver = max(driver, next((rss for rss, _, py in sizes if py), 0))
                    meminfo = Path("/proc/meminfo").read_text().split("MemAvailable:")[1]
                    if int(meminfo.split()[0]) * 1024 < MEMORY_GUARD:
                        failure = f"stopped at {tree / MIB:,.0f} MiB: the machine's memory ran out"
                if time.perf_counter() - start > timeout:
                    failure = f"stopped after {timeout:.0f} s"
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu_start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if failure is None and process.returncode:
        failure = f"exit code {process.returncode}: {stderr[-1500:]}"
    if failure is not None and check:
        raise BenchmarkError(
            f"`{' '.join(args)}` in {cwd}: {failure}\n"
            f"--- stdout ---\n{stdout[-4000:]}\n--- stderr ---\n{stderr[-4000:]}"
        )
    return Timing(wall, cpu, stdout, tree / MIB, driver / MIB, failure)


def timed(call: Callable[[], object]) -> Timing:
    """Run ``call`` in this process once; CPU counts this process and waited-for children."""
    cpu_start, start = time.process_time() + children_cpu(), time.perf_counter()
    call()
    return Timing(time.perf_counter() - start, time.process_time() + children_cpu() - cpu_start)


def last_json(stdout: str) -> Any:
    """The JSON document a probe printed as its last line."""
    return json.loads([line for line in stdout.splitlines() if line.strip()][-1])


def rotated(items: Sequence[str], shift: int) -> list[str]:
    """``items`` from position ``shift``: rotated each round, a shared machine's drifting
    load falls on every measure alike."""
    start = shift % len(items)
    return [*items[start:], *items[:start]]


def median(values: Iterable[float]) -> float:
    """The median, as a float."""
    return float(statistics.median(list(values)))


def log(message: str) -> None:
    """Progress, on stderr: the summary tables own stdout."""
    print(message, file=sys.stderr, flush=True)


def _target(value: float, target: str | None) -> dict[str, Any]:
    """``target`` ("<= 1.5" or ">= 10") and the verdict on ``value``; nothing without one."""
    if target is None:
        return {}
    op, bound = target.split()
    met = value <= float(bound) if op == "<=" else value >= float(bound)
    return {BOUNDS[op]: float(bound), "verdict": "met" if met else "missed"}


@dataclass
class Summary:
    """One run of a benchmark: raw samples (not written), measures, ratios, verdicts, details."""

    benchmark: str
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratios: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    wall: dict[str, list[float]] = field(default_factory=dict)  # seconds per measure
    cpu: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)  # samples that are not timings
    units: dict[str, str] = field(default_factory=dict)  # of each of those
    started: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def add(self, name: str, timing: Timing) -> Timing:
        """Record one timing of ``name``; returns it."""
        self.wall.setdefault(name, []).append(timing.wall)
        self.cpu.setdefault(name, []).append(timing.cpu)
        return timing

    def note(self, name: str, value: float, unit: str) -> None:
        """Record one sample that is not a timing (rows/s, a peak RSS), in ``unit``."""
        self.values.setdefault(name, []).append(float(value))
        self.units[name] = unit

    def rounds(
        self, measures: Mapping[str, Callable[[], T]], repeats: int, *, warmup: int = 0
    ) -> dict[str, list[T]]:
        """Every measure once a round, rotated; each one's results, timings also recorded.
        The ``warmup`` rounds are not kept (caches, bytecode, workers' imports)."""
        results: dict[str, list[T]] = {name: [] for name in measures}
        for index in range(warmup + repeats):
            for name in rotated(list(measures), index):
                result = measures[name]()
                if index >= warmup:
                    results[name].append(result)
                    if isinstance(result, Timing):
                        self.add(name, result)
            log(f"round {index + 1}/{warmup + repeats}" + (" (warm-up)" if index < warmup else ""))
        return results

    def measure(
        self, name: str, wall: Sequence[float] | None = None, cpu: Sequence[float] | None = None,
        *, digits: int = 3, unit: str = "s", target: str | None = None, judge_min: bool = False,
    ) -> None:  # fmt: skip
        """Median, minimum and count of ``wall`` and ``cpu`` (default: the timings recorded
        as ``name``); a target judged on the median, or with ``judge_min`` the best
        (start-up times: slower is the machine's noise)."""
        if wall is None:
            wall, cpu = self.wall[name], self.cpu[name]
        entry: dict[str, Any] = {} if unit == "s" else {"unit": unit}
        entry |= {"median": round(median(wall), digits), "min": round(min(wall), digits)}
        entry["n"] = len(wall)
        if cpu:
            entry |= {"cpu_median": round(median(cpu), digits), "cpu_min": round(min(cpu), digits)}
        judged = _target(min(wall) if judge_min else median(wall), target)
        judged |= {"judged_on": "min"} if judged and judge_min else {}
        self.measures[name] = entry | judged

    def measure_all(self, *, digits: int = 3) -> None:
        """Record every timing (to ``digits`` places), then every noted value (to one)."""
        for name in sorted(self.wall):
            self.measure(name, digits=digits)
        for name, values in sorted(self.values.items()):
            self.measure(name, values, digits=1, unit=self.units[name])

    def ratio(
        self, name: str, value: float, *, of: str, digits: int = 3, target: str | None = None,
        **also: float | Sequence[float],
    ) -> None:  # fmt: skip
        """Record ``value`` (the ratio ``of`` says) against its target, and ``also``."""
        entry: dict[str, Any] = {"of": of, "median": round(value, digits)}
        for key, extra in also.items():
            entry[key] = [round(v, digits) for v in extra] if isinstance(extra, list) else extra
            entry[key] = round(extra, digits) if isinstance(extra, float | int) else entry[key]
        self.ratios[name] = entry | _target(value, target)

    def compare(
        self, name: str, candidate: str, reference: str, *, paired: bool = False,
        target: str | None = None,
    ) -> None:  # fmt: skip
        """``candidate`` / ``reference``, timed in the same rounds: the ratio of medians, or
        with ``paired`` the median of each round's ratio; the other, minimums and CPU beside."""
        wall, cpu = self.wall, self.cpu
        pairs = median(a / b for a, b in zip(wall[candidate], wall[reference], strict=True))
        medians = median(wall[candidate]) / median(wall[reference])
        of = f"{candidate} / {reference}, " + ("paired rounds, median" if paired else "medians")
        self.ratio(
            name, pairs if paired else medians, of=of, target=target,
            **{"of_medians": medians} if paired else {"paired": pairs},  # type: ignore[arg-type]
            min=min(wall[candidate]) / min(wall[reference]),
            cpu_median=median(cpu[candidate]) / median(cpu[reference]),
        )  # fmt: skip

    def record(self) -> dict[str, Any]:
        """The JSON document: the summary, when and where it was measured, on what."""
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
        machine = {
            "cpus": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_1m_before": round(self.load_before, 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
        }  # fmt: skip
        judged = {**self.measures, **self.ratios}
        return {
            "benchmark": self.benchmark, "date": self.started.isoformat(timespec="seconds"),
            "template": template_revision(), "machine": machine, "versions": self.versions,
            "settings": self.settings, "measures": self.measures, "ratios": self.ratios,
            "verdicts": {name: e["verdict"] for name, e in judged.items() if "verdict" in e},
            "details": self.details,
        }  # fmt: skip


def template_revision() -> str:
    """The template's short commit, plus " with working-tree changes" if it is dirty."""
    commit = run(["git", "rev-parse", "--short", "HEAD"], TEMPLATE_ROOT, timeout=60).stdout.strip()
    dirty = run(["git", "status", "--porcelain"], TEMPLATE_ROOT, timeout=60).stdout.strip()
    return commit + (" with working-tree changes" if dirty else "")


def tool_versions(tools: Iterable[str], cwd: Path = TEMPLATE_ROOT) -> dict[str, str]:
    """The ``--version`` line of each command-line tool."""
    return {tool: run([tool, "--version"], cwd, timeout=60).stdout.strip() for tool in tools}


def snapshot_template(dest: Path) -> Path:
    """A clone of the template with its working tree committed (``dest``'s own index, so
    the template's is untouched): uncommitted work is measured from a clean repository."""
    run(["git", "clone", "--quiet", str(TEMPLATE_ROOT), str(dest)], TEMPLATE_ROOT, timeout=600)
    env = subprocess_env({"GIT_DIR": str(dest / ".git"), "GIT_WORK_TREE": str(TEMPLATE_ROOT)})
    run(["git", "add", "-A"], TEMPLATE_ROOT, env, timeout=600)
    run([*GIT_COMMIT, "chore: benchmark", "--allow-empty"], TEMPLATE_ROOT, env, timeout=600)
    run(["git", "reset", "--quiet", "--hard", "HEAD"], dest, timeout=600)
    return dest


def new_project(
    parent: Path, *, template: Path | None = None, data: Mapping[str, str] | None = None,
    vcs_ref: str = "HEAD", promote: bool = False,
) -> tuple[Path, dict[str, Timing]]:  # fmt: skip
    """A project in ``parent/project`` from ``template`` (default: a new snapshot), as a
    user makes one; each phase timed (``copy``, ``git``, ``install``, ``lock``, and with
    ``promote`` ``pipeline`` and ``promote``: 1.0.0 to production)."""
    template = template or snapshot_template(parent / "template")
    project, answers = parent / "project", [f"--data={k}={v}" for k, v in (data or {}).items()]
    copy = ["copier", "copy", "--defaults", "--quiet", f"--vcs-ref={vcs_ref}", *answers]
    commit = ["git", "add", "-A"], [*GIT_COMMIT, "chore: benchmark"]
    phases: dict[str, Sequence[Sequence[str]]] = {
        "copy": [[*copy, str(template), str(project)]],
        "git": [["git", "init", "--quiet", "--initial-branch=main"], *commit],
        "install": [["just", "install"]],
        "lock": commit,
    }
    if promote:
        phases |= {"pipeline": [["just", "pipeline"], *commit]}
        phases |= {"promote": [["just", "models", "promote", "1.0.0", "production", "benchmark"]]}
    timings = {}
    for phase, commands in phases.items():
        cwd = parent if phase == "copy" else project
        done = [run(command, cwd, timeout=3600) for command in commands]
        timings[phase] = Timing(sum(t.wall for t in done), sum(t.cpu for t in done))
    return project, timings


class Project(NamedTuple):
    """A generated project with 1.0.0 in production, and its package's import name."""

    path: Path
    package: str

    def bin(self, name: str) -> str:
        """A program of the project's venv (``python``, the CLI, ``mlflow``)."""
        return str(self.path / ".venv" / "bin" / name)

    def probe(self, name: str, *args: str) -> list[str]:
        """The command running ``benchmarks/probes/<name>`` with ``args`` in the venv."""
        return [self.bin("python"), str(PROBES / name), *args]


def trained_project(parent: Path, existing: Path | None = None) -> Project:
    """``existing`` (a project that has a champion), or a new one promoted in ``parent``."""
    path = existing.resolve() if existing else new_project(parent, promote=True)[0]
    answers = yaml.safe_load((path / ".copier-answers.yml").read_text(encoding="utf-8"))
    return Project(path, str(answers["package_name"]))


def argument_parser(
    doc: str | None, benchmark: str, *, repeats: int, project: bool = False
) -> argparse.ArgumentParser:
    """The shared options (``project`` adds ``--project``); the script adds its own."""
    parser = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=repeats, help="timed repeats, at least 1")
    output = RESULTS_DIR / f"{benchmark}.json"
    parser.add_argument("--output", type=Path, default=output, help="summary JSON (committed)")
    parser.add_argument("--no-write", action="store_true", help="print the summary, write nothing")
    if project:
        parser.add_argument("--project", type=Path, help="reuse a project that has a champion")
    return parser


def main(benchmark: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser) -> None:
    """Parse the options and run ``benchmark``: exit 0 even when a target is missed, 1 when
    a command it depends on failed."""
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    try:
        benchmark(args)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def to_json(value: object, indent: int = 0) -> str:
    """JSON with every mapping that holds a mapping spread one entry a line, the rest on one
    line: one measure a line in diffs."""
    if isinstance(value, dict) and any(isinstance(item, dict) for item in value.values()):
        pad = "  " * (indent + 1)
        items = [f"{pad}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    return json.dumps(value, ensure_ascii=False)


def report(args: argparse.Namespace, summary: Summary, *, scenario: str | None = None) -> None:
    """Print ``summary``'s measures, then ratios, as a markdown table and write it to
    ``--output`` (with ``scenario``, one entry of the file's ``scenarios``, the others kept)."""
    record = summary.record()
    keys = ("median", "min", "cpu_median", "n", "target_max", "target_min", "verdict")
    rows = [("name", *(key.replace("_", " ") for key in keys)), ("---",) * (len(keys) + 1)]
    for name, entry in {**record["measures"], **record["ratios"]}.items():
        rows.append((name, *(entry.get(key, "") for key in keys)))
    cells = ([f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in rows)
    print("\n" + "\n".join("| " + " | ".join(row) + " |" for row in cells))
    if args.no_write:
        return
    document: dict[str, Any] = record
    if scenario is not None:
        existing = json.loads(args.output.read_text("utf-8")) if args.output.is_file() else {}
        scenarios = dict(existing.get("scenarios", {})) | {scenario: record}
        document = {"benchmark": summary.benchmark, "scenarios": dict(sorted(scenarios.items()))}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(to_json(document) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
