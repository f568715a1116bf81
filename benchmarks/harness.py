"""What every benchmark shares: its options, how it runs and times, and what it records.

A benchmark script builds a ``Summary`` (medians, ratios against a reference timed in the
same run, each target's verdict), and ``report`` prints it as markdown tables and writes
it to ``benchmarks/results/<benchmark>.json``. Only that summary goes into git; raw
samples are written only where ``--raw`` says. The API is described in
``benchmarks/README.md``.

Commands run in the tests' own environment (``tests/environment.py``): a benchmark times
exactly what the tests prove works.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = TEMPLATE_ROOT / "benchmarks" / "results"

sys.path.insert(0, str(TEMPLATE_ROOT / "tests"))  # the one environment, shared with the tests
from environment import subprocess_env  # noqa: E402

T = TypeVar("T")


class BenchmarkError(RuntimeError):
    """A command the benchmark depends on failed."""


class Timing(NamedTuple):
    """One finished command or call: wall time, CPU time of its process tree, and stdout."""

    wall: float
    cpu: float
    stdout: str = ""


def command_env(*, bytecode_cache: bool = True) -> dict[str, str]:
    """The tests' environment for commands; ``bytecode_cache=False`` forces compiling.

    Args:
        bytecode_cache: let Python write ``__pycache__`` (a developer machine); when
            false, set ``PYTHONDONTWRITEBYTECODE=1`` so every process compiles from source.
    """
    env = subprocess_env()
    if not bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def use_command_env() -> None:
    """Give this process the commands' environment, for work done in-process (copier, git)."""
    env = command_env()
    os.environ.clear()
    os.environ.update(env)


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


def timed(call: Callable[[], object]) -> Timing:
    """Run ``call`` in this process once; CPU counts this process and waited-for children."""
    cpu_start = time.process_time() + children_cpu()
    start = time.perf_counter()
    call()
    wall = time.perf_counter() - start
    return Timing(wall, time.process_time() + children_cpu() - cpu_start)


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """``items`` starting at position ``shift`` (modulo its length): one interleaved round.

    Rotating the order by one position per round makes slow drift in a shared machine's
    load fall on every measure alike.
    """
    start = shift % len(items)
    return [*items[start:], *items[:start]]


@dataclass
class Samples:
    """Raw samples of one run: wall and CPU seconds per measure, and any other values."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, timing: Timing) -> None:
        """Record one timing of ``name``."""
        self.wall.setdefault(name, []).append(timing.wall)
        self.cpu.setdefault(name, []).append(timing.cpu)

    def note(self, name: str, value: float) -> None:
        """Record one value that is not a timing (a paired ratio, a probe's own timer)."""
        self.values.setdefault(name, []).append(float(value))

    def raw(self) -> dict[str, Any]:
        """Everything, for ``--raw``."""
        return {"wall_s": self.wall, "cpu_s": self.cpu, "values": self.values}


def median(values: Iterable[float]) -> float:
    """The median, as a float."""
    return float(statistics.median(list(values)))


def _target(value: float, at_most: float | None, at_least: float | None) -> dict[str, Any]:
    """An entry's bound and its verdict (``met`` or ``missed``); nothing without a target."""
    if at_most is not None:
        return {"target_max": at_most, "verdict": "met" if value <= at_most else "missed"}
    if at_least is not None:
        return {"target_min": at_least, "verdict": "met" if value >= at_least else "missed"}
    return {}


@dataclass
class Summary:
    """What a run of one benchmark records: its measures, ratios and verdicts.

    ``measures`` holds seconds (or ``unit``) per measure: ``median``, ``min``, ``n`` and,
    when known, ``cpu_median``/``cpu_min``. ``ratios`` holds each ratio against its
    reference (``of`` says which), with ``target_max``/``target_min`` and ``verdict``
    when it is a target. ``details`` holds the benchmark's own attribution figures.
    """

    benchmark: str
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    ratios: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    source: Path = TEMPLATE_ROOT  # the template repository measured
    started: datetime = field(default_factory=lambda: datetime.now(tz=UTC))
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def measure(
        self,
        name: str,
        wall: Sequence[float],
        cpu: Sequence[float] | None = None,
        *,
        digits: int = 3,
        unit: str = "s",
        at_most: float | None = None,
        at_least: float | None = None,
        judge_min: bool = False,
    ) -> None:
        """Record the median, minimum and count of ``wall`` (and ``cpu``) as ``name``.

        A target is judged on the median, or with ``judge_min`` on the best sample (for
        start-up times, where every slower sample is the machine's noise).
        """
        entry: dict[str, Any] = {} if unit == "s" else {"unit": unit}
        entry |= {
            "median": round(median(wall), digits),
            "min": round(min(wall), digits),
            "n": len(wall),
        }
        if cpu:
            entry |= {"cpu_median": round(median(cpu), digits), "cpu_min": round(min(cpu), digits)}
        judged = min(wall) if judge_min else median(wall)
        target = _target(judged, at_most, at_least)
        if target and judge_min:
            target["judged_on"] = "min"
        self.measures[name] = entry | target

    def measure_all(self, samples: Samples, *, digits: int = 3) -> None:
        """Record every timed measure of ``samples``, in name order."""
        for name in sorted(samples.wall):
            self.measure(name, samples.wall[name], samples.cpu.get(name), digits=digits)

    def ratio(
        self,
        name: str,
        value: float,
        *,
        of: str,
        digits: int = 3,
        at_most: float | None = None,
        at_least: float | None = None,
        **also: float | Sequence[float],
    ) -> None:
        """Record ``value`` (the median ratio ``of`` says) and ``also`` (min, cpu, ...)."""
        entry: dict[str, Any] = {"of": of, "median": round(value, digits)}
        for key, extra in also.items():
            entry[key] = (
                round(extra, digits)
                if isinstance(extra, float | int)
                else [round(v, digits) for v in extra]
            )
        self.ratios[name] = entry | _target(value, at_most, at_least)

    def verdicts(self) -> dict[str, str]:
        """Every target's verdict, by measure or ratio name."""
        entries = {**self.measures, **self.ratios}
        return {name: entry["verdict"] for name, entry in entries.items() if "verdict" in entry}

    def record(self) -> dict[str, Any]:
        """The JSON document: the summary, when and where it was measured, on what."""
        machine = machine_info() | {
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


def machine_info() -> dict[str, Any]:
    """The machine a result comes from: CPUs and their model, platform, Python."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text(encoding="utf-8").splitlines()
        names = (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
        model = next(names, "")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def template_revision(source: Path = TEMPLATE_ROOT) -> str:
    """The short commit of ``source``, plus " with working-tree changes" if it is dirty."""
    env = command_env()
    commit = run(["git", "rev-parse", "--short", "HEAD"], source, env, timeout=60)
    status = run(["git", "status", "--porcelain"], source, env, timeout=60)
    dirty = " with working-tree changes" if status.stdout.strip() else ""
    return commit.stdout.strip() + dirty


def tool_versions(tools: Iterable[str], cwd: Path = TEMPLATE_ROOT) -> dict[str, str]:
    """The ``--version`` line of each command-line tool."""
    env = command_env()
    return {tool: run([tool, "--version"], cwd, env, timeout=60).stdout.strip() for tool in tools}


def package_name(project: Path) -> str:
    """The generated package's import name, from the copier answers."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(answers["package_name"])


def promoted_project(parent: Path, env: Mapping[str, str]) -> Path:
    """A default project from the working tree, trained, with version 1.0.0 in production."""
    project = parent / "project"
    copy = ["copier", "copy", "--defaults", "--quiet", "--vcs-ref=HEAD"]
    run([*copy, str(TEMPLATE_ROOT), str(project)], parent, env, timeout=600)
    commit = ["git", "commit", "--quiet", "--no-verify", "-m"]
    for step in (
        ["git", "init", "--quiet", "--initial-branch=main"],
        ["git", "add", "-A"],
        [*commit, "chore: generate"],
        ["just", "install"],
        ["git", "add", "-A"],
        [*commit, "build: lock"],
        ["just", "pipeline"],
        ["git", "add", "-A"],
        [*commit, "chore: pipeline"],
        ["just", "models", "promote", "1.0.0", "production", "benchmark"],
    ):
        run(step, project, env, timeout=1800)
    return project


def _at_least_one(text: str) -> int:
    """An integer of at least 1, for ``--repeats``."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def argument_parser(
    doc: str | None, *, benchmark: str, repeats: int, repeats_help: str = "timed repeats"
) -> argparse.ArgumentParser:
    """The options every benchmark takes; the script adds its own.

    ``--repeats`` (rounds, runs: how many timed samples per measure), ``--output`` (the
    summary, ``benchmarks/results/<benchmark>.json``), ``--no-write`` (print only) and
    ``--raw`` (also write every sample, to a file kept out of git).
    """
    parser = argparse.ArgumentParser(
        description=(doc or "").splitlines()[0] if doc else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--repeats", type=_at_least_one, default=repeats, help=repeats_help)
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / f"{benchmark}.json",
        help="summary JSON file (committed)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the summary, write nothing")
    parser.add_argument(
        "--raw", type=Path, default=None, help="also write every raw sample here (not committed)"
    )
    return parser


def _is_scalar(value: object) -> bool:
    """A number, string, boolean or null, or a list of them."""
    if isinstance(value, list):
        return all(_is_scalar(item) and not isinstance(item, list) for item in value)
    return not isinstance(value, dict)


def to_json(value: object, indent: int = 0) -> str:
    """JSON with one line per entry: a mapping or list of plain values stays on one line.

    A summary then reads (and diffs) one measure or ratio a line.
    """
    pad = "  " * (indent + 1)
    if isinstance(value, dict) and value and not all(map(_is_scalar, value.values())):
        items = [f"{pad}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and not _is_scalar(value):
        items = [pad + to_json(item, indent + 1) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(to_json(data) + "\n", encoding="utf-8")
    partial.replace(path)


def report(
    args: argparse.Namespace,
    summary: Summary,
    samples: Samples | None = None,
    *,
    scenario: str | None = None,
) -> dict[str, Any]:
    """Print ``summary``, write it to ``args.output`` and ``samples`` to ``args.raw``.

    With ``scenario``, the output file holds one summary per scenario under
    ``"scenarios"`` and only this one is replaced. Returns the written record.
    """
    record = summary.record()
    print()
    print(summary_tables(record))
    if args.no_write:
        return record
    document: dict[str, Any] = record
    if scenario is not None:
        existing: dict[str, Any] = {}
        if args.output.is_file():
            existing = json.loads(args.output.read_text(encoding="utf-8"))
        scenarios = dict(existing.get("scenarios", {})) | {scenario: record}
        document = {"benchmark": summary.benchmark, "scenarios": dict(sorted(scenarios.items()))}
    write_json(args.output, document)
    print(f"\nwrote {args.output}")
    if args.raw is not None and samples is not None:
        write_json(args.raw, {"benchmark": summary.benchmark, "scenario": scenario} | samples.raw())
        print(f"wrote the raw samples to {args.raw}")
    return record


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; numbers are right-aligned, floats shown to three decimals."""

    def cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    values = [list(row) for row in rows]
    right = [
        all(isinstance(row[i], int | float | None) for row in values)
        and any(row[i] is not None for row in values)
        for i in range(len(headers))
    ]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if numeric else "---" for numeric in right) + "|")
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in values]
    return "\n".join(lines)


def summary_tables(record: Mapping[str, Any]) -> str:
    """The measures and ratios of a summary record, as markdown tables."""

    def target(entry: Mapping[str, Any]) -> str:
        if "target_max" in entry:
            return f"<= {entry['target_max']:g}"
        if "target_min" in entry:
            return f">= {entry['target_min']:g}"
        return ""

    parts = []
    columns = {
        "measures": ("measure", "median", "min", "cpu_median", "n"),
        "ratios": ("ratio", "of", "median", "min", "cpu_median"),
    }
    for section, (head, *keys) in columns.items():
        if record[section]:
            rows = [
                [name, *(entry.get(key) for key in keys), target(entry), entry.get("verdict")]
                for name, entry in record[section].items()
            ]
            headers = [head, *(key.replace("_", " ") for key in keys), "target", "verdict"]
            parts.append(markdown_table(headers, rows))
    return "\n\n".join(parts)
