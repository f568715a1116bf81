"""The one harness every benchmark uses: run and time, interleave, summarise, judge, record.

A benchmark is a short description of its measures, references and targets; this module
does the rest. Commands run in the tests' own environment (``tests/environment.py``), so
a benchmark times what the tests prove works. The API and the summary format are in
``benchmarks/README.md``.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = TEMPLATE_ROOT / "benchmarks" / "results"
MIB = 1 << 20
MEMORY_GUARD = 3 << 30  # a watched command is stopped when less memory than this is left

sys.path.insert(0, str(TEMPLATE_ROOT / "tests"))  # the one environment, shared with the tests
from environment import subprocess_env  # noqa: E402

T = TypeVar("T")


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


def command_env(*, bytecode_cache: bool = True, **extra: str) -> dict[str, str]:
    """The tests' environment; ``bytecode_cache=False`` makes every process compile."""
    env = subprocess_env(extra)
    if not bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def children_cpu() -> float:
    """User + system CPU seconds of every finished, waited-for descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(root: int) -> list[tuple[int, bool]]:
    """RSS bytes of ``root`` and each descendant, parents first, with "is Python".

    Reading ``/proc/<pid>/task/*/children`` costs well under a millisecond; psutil's
    ``children()`` about 6 ms a call, too slow for a 50 ms sampling period.
    """
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        try:
            python = Path(f"/proc/{pid}/exe").readlink().name.startswith("python")
            for task in Path(f"/proc/{pid}/task").iterdir():
                queue += [int(child) for child in (task / "children").read_text().split()]
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGESIZE")
        except (OSError, IndexError):  # it has just exited
            continue
        found.append((rss, python))
    return found


def run(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float,
    ok: Iterable[int] = (0,),
    merge_stderr: bool = False,
    watch: bool = False,
    check: bool = True,
) -> Timing:
    """Run ``args`` in its own session; its wall time, CPU time and output.

    ``watch`` samples the peak RSS of its whole process tree every 50 ms and stops it when
    the machine runs short of memory. A command past ``timeout``, short of memory or
    exiting with a status not in ``ok`` has failed: ``check`` raises ``BenchmarkError``,
    otherwise the failure is returned (a reference that runs out of memory is a result).
    """
    env = command_env() if env is None else env
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        cpu_start, start, tree, driver, failure = children_cpu(), time.perf_counter(), 0, 0, None
        process = subprocess.Popen(
            list(args), cwd=cwd, env=dict(env), stdout=out, start_new_session=True,
            stderr=subprocess.STDOUT if merge_stderr else err,
        )  # fmt: skip
        try:
            while failure is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.05 if watch else 1.0)
                    break
                if watch:
                    sizes = _tree_rss(process.pid)
                    tree = max(tree, sum(rss for rss, _ in sizes))
                    driver = max(driver, next((rss for rss, python in sizes if python), 0))
                    meminfo = Path("/proc/meminfo").read_text().split("MemAvailable:")[1]
                    if int(meminfo.split()[0]) * 1024 < MEMORY_GUARD:
                        failure = f"stopped at {tree / MIB:,.0f} MiB: the machine's memory ran out"
                if time.perf_counter() - start > timeout:
                    failure = f"stopped after {timeout:.0f} s"
        finally:  # stopped or interrupted: end its whole session (a daemon it starts stays)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu_start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if failure is None and process.returncode not in set(ok):
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


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """``items`` starting at position ``shift``: one interleaved round.

    Rotating the order by one position per round makes slow drift in a shared machine's
    load fall on every measure alike.
    """
    start = shift % len(items)
    return [*items[start:], *items[:start]]


def median(values: Iterable[float]) -> float:
    """The median, as a float."""
    return float(statistics.median(list(values)))


@dataclass
class Samples:
    """Raw samples of one run: wall and CPU seconds per measure, and any other values."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, timing: Timing) -> Timing:
        """Record one timing of ``name``; returns it."""
        self.wall.setdefault(name, []).append(timing.wall)
        self.cpu.setdefault(name, []).append(timing.cpu)
        return timing

    def note(self, name: str, value: float) -> None:
        """Record one value that is not a timing (a paired ratio, a probe's own timer)."""
        self.values.setdefault(name, []).append(float(value))

    def rounds(
        self, measures: Mapping[str, Callable[[], Timing]], repeats: int, *, warmup: int = 0
    ) -> dict[str, Timing]:
        """Run every measure once per round, rotated each round; the last timing of each.

        The first ``warmup`` rounds are not recorded (caches, bytecode, workers' imports).
        """
        last: dict[str, Timing] = {}
        for index in range(warmup + repeats):
            for name in rotated(list(measures), index):
                last[name] = measures[name]()
                if index >= warmup:
                    self.add(name, last[name])
            log(f"round {index + 1}/{warmup + repeats}" + (" (warm-up)" if index < warmup else ""))
        return last


def _target(value: float, target: str | None) -> dict[str, Any]:
    """``target`` ("<= 1.5" or ">= 10") and the verdict on ``value``; nothing without one."""
    if target is None:
        return {}
    op, bound = target.split()
    met = value <= float(bound) if op == "<=" else value >= float(bound)
    key = "target_max" if op == "<=" else "target_min"
    return {key: float(bound), "verdict": "met" if met else "missed"}


@dataclass
class Summary:
    """What a run of one benchmark records: measures, ratios, verdicts and details."""

    benchmark: str
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratios: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    source: Path = TEMPLATE_ROOT
    started: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def measure(
        self, name: str, wall: Sequence[float], cpu: Sequence[float] | None = None, *,
        digits: int = 3, unit: str = "s", target: str | None = None, judge_min: bool = False,
    ) -> None:  # fmt: skip
        """Record the median, minimum and count of ``wall`` (and ``cpu``) as ``name``.

        A target is judged on the median, or with ``judge_min`` on the best sample (for
        start-up times, where every slower sample is the machine's noise).
        """
        entry: dict[str, Any] = {} if unit == "s" else {"unit": unit}
        entry |= {"median": round(median(wall), digits), "min": round(min(wall), digits)}
        entry["n"] = len(wall)
        if cpu:
            entry |= {"cpu_median": round(median(cpu), digits), "cpu_min": round(min(cpu), digits)}
        judged = _target(min(wall) if judge_min else median(wall), target)
        self.measures[name] = (
            entry | judged | ({"judged_on": "min"} if judged and judge_min else {})
        )

    def measure_all(self, samples: Samples, *, digits: int = 3) -> None:
        """Record every timed measure of ``samples``, in name order."""
        for name in sorted(samples.wall):
            self.measure(name, samples.wall[name], samples.cpu.get(name), digits=digits)

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
        self, name: str, samples: Samples, candidate: str, reference: str, *,
        paired: bool = False, target: str | None = None,
    ) -> None:  # fmt: skip
        """``candidate`` over ``reference``, both timed in the same rounds.

        The verdict is on the ratio of medians, or with ``paired`` on the median of each
        round's ratio; the other one, minimums and CPU medians are recorded beside it.
        """
        wall, cpu = samples.wall, samples.cpu
        pairs = [a / b for a, b in zip(wall[candidate], wall[reference], strict=True)]
        medians = median(wall[candidate]) / median(wall[reference])
        of = "paired rounds, median" if paired else "medians"
        also = {"of_medians": medians} if paired else {"paired": median(pairs)}
        self.ratio(
            name, median(pairs) if paired else medians, of=f"{candidate} / {reference}, {of}",
            target=target, **also,  # type: ignore[arg-type]
            min=min(wall[candidate]) / min(wall[reference]),
            cpu_median=median(cpu[candidate]) / median(cpu[reference]),
        )  # fmt: skip

    def verdicts(self) -> dict[str, str]:
        """Every target's verdict, by measure or ratio name."""
        entries = {**self.measures, **self.ratios}
        return {name: entry["verdict"] for name, entry in entries.items() if "verdict" in entry}

    def record(self) -> dict[str, Any]:
        """The JSON document: the summary, when and where it was measured, on what."""
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        machine = {
            "cpus": os.cpu_count(),
            "cpu_model": next(
                (ln.split(":", 1)[1].strip() for ln in lines if "model name" in ln), ""
            ),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_1m_before": round(self.load_before, 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
        }
        return {
            "benchmark": self.benchmark,
            "date": self.started.isoformat(timespec="seconds"),
            "template": template_revision(self.source),
            "machine": machine,
            "versions": self.versions,
            "settings": self.settings,
            "measures": self.measures,
            "ratios": self.ratios,
            "verdicts": self.verdicts(),
            "details": self.details,
        }


def template_revision(source: Path = TEMPLATE_ROOT) -> str:
    """The short commit of ``source``, plus " with working-tree changes" if it is dirty."""
    commit = run(["git", "rev-parse", "--short", "HEAD"], source, timeout=60).stdout.strip()
    dirty = run(["git", "status", "--porcelain"], source, timeout=60).stdout.strip()
    return commit + (" with working-tree changes" if dirty else "")


def tool_versions(tools: Iterable[str], cwd: Path = TEMPLATE_ROOT) -> dict[str, str]:
    """The ``--version`` line of each command-line tool."""
    return {tool: run([tool, "--version"], cwd, timeout=60).stdout.strip() for tool in tools}


def log(message: str) -> None:
    """Progress, on stderr: the summary tables own stdout."""
    print(message, file=sys.stderr, flush=True)


# --- projects -------------------------------------------------------------------------

GIT_COMMIT = ("git", "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m")


def snapshot_template(source: Path, dest: Path) -> Path:
    """Clone ``source`` into ``dest`` and commit the working tree of ``source`` there.

    The commit holds what ``git add -A`` would stage in ``source``, made with ``source``
    as the work tree but ``dest``'s own index, so ``source``'s index is never touched:
    uncommitted work is measured, and copier copies a clean repository as a user's.
    """
    run(["git", "clone", "--quiet", str(source), str(dest)], source, timeout=600)
    env = command_env(GIT_DIR=str(dest / ".git"), GIT_WORK_TREE=str(source))
    run(["git", "add", "-A"], source, env, timeout=600)
    if run(["git", "status", "--porcelain"], source, env, timeout=600).stdout.strip():
        run(
            [*GIT_COMMIT, "chore: benchmark snapshot of the working tree"], source, env, timeout=600
        )
    run(["git", "reset", "--quiet", "--hard", "HEAD"], dest, timeout=600)
    return dest


def new_project(
    parent: Path, env: Mapping[str, str] | None = None, *, template: Path | None = None,
    data: Mapping[str, str] | None = None, vcs_ref: str = "HEAD", promote: bool = False,
) -> tuple[Path, dict[str, Timing]]:  # fmt: skip
    """A default project in ``parent/project``, as a user makes one, from ``template`` (a
    ``snapshot_template``; by default a new snapshot of this template's working tree).

    Phases, each timed: ``copy`` (the copier CLI), ``git`` (init, add, commit),
    ``install`` (``just install``), ``lock`` (commit ``uv.lock``); with ``promote`` also
    ``pipeline`` (``just pipeline``, committed) and ``promote`` (1.0.0 to production).
    """
    template = template or snapshot_template(TEMPLATE_ROOT, parent / "template")
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
        done = [run(command, cwd, env, timeout=3600, merge_stderr=True) for command in commands]
        timings[phase] = Timing(sum(t.wall for t in done), sum(t.cpu for t in done))
    return project, timings


def package_name(project: Path) -> str:
    """The generated package's import name, from the copier answers."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(answers["package_name"])


# --- options and output ---------------------------------------------------------------


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def argument_parser(
    doc: str | None, *, benchmark: str, repeats: int, repeats_help: str = "timed repeats"
) -> argparse.ArgumentParser:
    """``--repeats``, ``--output``, ``--no-write`` and ``--raw``; the script adds its own."""
    parser = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--repeats", type=_at_least_one, default=repeats, help=repeats_help)
    output = RESULTS_DIR / f"{benchmark}.json"
    parser.add_argument("--output", type=Path, default=output, help="summary JSON (committed)")
    parser.add_argument("--no-write", action="store_true", help="print the summary, write nothing")
    parser.add_argument("--raw", type=Path, help="also write every raw sample here (not committed)")
    return parser


def main(benchmark: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser) -> None:
    """Parse the options and run ``benchmark``: exit 0 even when a target is missed, 1 when
    a command it depends on failed."""
    try:
        benchmark(parser.parse_args())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def _is_scalar(value: object) -> bool:
    if isinstance(value, list):
        return all(_is_scalar(item) and not isinstance(item, list) for item in value)
    return not isinstance(value, dict)


def to_json(value: object, indent: int = 0) -> str:
    """JSON with a mapping or list of plain values on one line: one measure a line in diffs."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict) and value and not all(map(_is_scalar, value.values())):
        items = [f"{pad}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and not _is_scalar(value):
        items = [pad + to_json(item, indent + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` through a temporary file, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(to_json(data) + "\n", encoding="utf-8")
    partial.replace(path)


def report(
    args: argparse.Namespace, summary: Summary, samples: Samples | None = None, *,
    scenario: str | None = None,
) -> None:  # fmt: skip
    """Print ``summary`` as tables; write it to ``--output`` and ``samples`` to ``--raw``.

    With ``scenario``, the file holds one summary per scenario and only this one changes.
    """
    record = summary.record()
    print("\n" + summary_tables(record))
    if args.no_write:
        return
    document: dict[str, Any] = record
    if scenario is not None:
        existing = json.loads(args.output.read_text("utf-8")) if args.output.is_file() else {}
        scenarios = dict(existing.get("scenarios", {})) | {scenario: record}
        document = {"benchmark": summary.benchmark, "scenarios": dict(sorted(scenarios.items()))}
    write_json(args.output, document)
    print(f"\nwrote {args.output}")
    if args.raw is not None and samples is not None:
        raw = {"wall_s": samples.wall, "cpu_s": samples.cpu, "values": samples.values}
        write_json(args.raw, {"benchmark": summary.benchmark, "scenario": scenario} | raw)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; numeric columns right-aligned, floats to three decimals."""
    values = [list(row) for row in rows]
    right = [
        all(isinstance(row[i], int | float | None) for row in values)
        and any(row[i] is not None for row in values)
        for i in range(len(headers))
    ]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if numeric else "---" for numeric in right) + "|")
    for row in values:
        cells = ("" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_tables(record: Mapping[str, Any]) -> str:
    """The measures and ratios of a summary record, as markdown tables."""

    def target(entry: Mapping[str, Any]) -> str:
        if "target_max" in entry:
            return f"<= {entry['target_max']:g}"
        return f">= {entry['target_min']:g}" if "target_min" in entry else ""

    parts = []
    columns = {
        "measures": ("measure", "median", "min", "cpu_median", "n"),
        "ratios": ("ratio", "of", "median", "min", "cpu_median"),
    }
    for section, (head, *keys) in columns.items():
        rows = [
            [name, *(entry.get(key) for key in keys), target(entry), entry.get("verdict")]
            for name, entry in record[section].items()
        ]
        headers = [head, *(key.replace("_", " ") for key in keys), "target", "verdict"]
        parts += [markdown_table(headers, rows)] if rows else []
    return "\n\n".join(parts)
