"""In the project's venv: the per-task cost of ``ComputeBackend.map`` on one backend.

Arguments: the package, the number of trivial tasks, the backend. The floor is the task
wrapper (``single_threaded``) called in-process; a warm-up map runs before the timed one.
"""
# mypy: ignore-errors

import json
import math
import sys
import time
from importlib import import_module


def main() -> None:
    """Guarded: the local backend's fork server re-imports this file in its workers."""
    package, tasks, backend_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    compute = import_module(f"{package}.compute")
    single_threaded = import_module(f"{package}.compute.backend").single_threaded
    config = import_module(f"{package}.config").ComputeConfig(backend=backend_name, workers=2)

    start = time.perf_counter()
    for i in range(tasks):
        single_threaded(math.sqrt, i)
    floor = time.perf_counter()
    with compute.open_backend(config) as backend:
        list(backend.map(math.sqrt, range(2 * backend.workers)))
        opened = time.perf_counter()
        list(backend.map(math.sqrt, range(tasks)))
        done = time.perf_counter()
    print(json.dumps({
        "floor_ms": (floor - start) * 1e3 / tasks, "open_s": opened - floor,
        "task_ms": (done - opened) * 1e3 / tasks, "where": backend.describe(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
