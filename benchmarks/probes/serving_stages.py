"""In the project's venv: the serving floor and each stage of a request, timed in-process.

Arguments: the package, the exported bundle, seconds a batch. Prints one JSON line: the
benchmark's row, versions, the floor (one validated row through ``Predictor.predict``, the
median of 3 batches) and every stage's wall and CPU seconds a call.
"""
# mypy: ignore-errors

import asyncio
import json
import logging
import os
import statistics
import sys
import time
import warnings
from importlib import import_module, metadata
from pathlib import Path

import pandas as pd

package, bundle, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])


def serving(name):
    return import_module(f"{package}.serving.{name}")


served = serving("bundle").open_bundle(bundle)
features = [feature.name for feature in served.features]
one_row = pd.read_parquet("data/prepared/test.parquet")[features].iloc[:1]
row = one_row.to_dict(orient="records")[0]
body = json.dumps({"records": [row]}).encode()
schema = serving("schema")
request_model = schema.predict_request_model(schema.record_model(served.features))
parsed = json.loads(body)
rows = request_model.model_validate(parsed).records
predictor = serving("predictor").Predictor(served)
estimator, matrix = served.adapter.strategy._estimator, one_row.to_numpy()
warnings.filterwarnings("ignore", message="X does not have valid feature names")
access = logging.getLogger(serving("observability").ACCESS_LOGGER)
access.addHandler(logging.FileHandler(os.devnull))  # a line a request, written as served
access.setLevel(logging.INFO)
access.propagate = False
app = serving("app").create_app(served)


def asgi(method, path, payload):
    """One request through the whole ASGI app, no socket."""
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]  # fmt: skip
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip

    async def call():
        messages, status = [{"type": "http.request", "body": payload}], []

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(dict(scope), receive, send)
        assert status == [200], f"{method} {path} answered {status}"

    return call


async def per_call(call, seconds):
    """Seconds a call, in one coroutine: an async stage pays no event-loop start-up."""

    async def once():
        result = call()
        if hasattr(result, "__await__"):
            await result

    await once()
    calls, cpu, start = 0, time.process_time(), time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls < 20:
        await once()
        calls += 1
    return {"wall_s": elapsed / calls, "cpu_s": (time.process_time() - cpu) / calls}


stages = {
    "json.loads": lambda: json.loads(body),
    "validate": lambda: request_model.model_validate(parsed),
    "predictor.predict": lambda: predictor.predict(rows),
    "adapter.predict": lambda: served.adapter.predict(one_row),
    "estimator.predict(DataFrame)": lambda: estimator.predict(one_row),
    "estimator.predict(ndarray)": lambda: estimator.predict(matrix),
    "app POST /predict": asgi("POST", "/predict", body),
    "app GET /health": asgi("GET", "/health", b""),
}
run = asyncio.new_event_loop().run_until_complete
floor = [run(per_call(stages["predictor.predict"], seconds)) for _ in range(3)]
names = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "mlflow",
         "pandas", "numpy", "scikit-learn")  # fmt: skip
versions = {"python": sys.version.split()[0], **{n: metadata.version(n) for n in names}}
print(json.dumps({
    "row": row, "features": len(features), "versions": versions,
    "floor": {key: statistics.median(b[key] for b in floor) for key in ("wall_s", "cpu_s")},
    "stages": {name: run(per_call(call, seconds / 2)) for name, call in stages.items()},
}))  # fmt: skip
