"""In the project's venv: the serving floor, one validated row through ``Predictor.predict``.

Arguments: the package, the exported bundle, seconds a batch. Prints one JSON line: the
benchmark's row, the number of features, versions and the floor's wall and CPU seconds a
call (the median of 3 batches of at least 20 calls, after one untimed call).
"""
# mypy: ignore-errors

import json
import statistics
import sys
import time
from importlib import import_module, metadata
from pathlib import Path

import pandas as pd

package, bundle, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
served = import_module(f"{package}.serving.bundle").open_bundle(bundle)
schema = import_module(f"{package}.serving.schema")
features = [feature.name for feature in served.features]
row = pd.read_parquet("data/prepared/test.parquet")[features][:1].to_dict(orient="records")[0]
request_model = schema.predict_request_model(schema.record_model(served.features))
rows = request_model.model_validate({"records": [row]}).records
predictor = import_module(f"{package}.serving.predictor").Predictor(served)


def per_call() -> dict[str, float]:
    """Wall and CPU seconds a call, over one batch."""
    calls, cpu, start = 0, time.process_time(), time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls < 20:
        predictor.predict(rows)
        calls += 1
    return {"wall_s": elapsed / calls, "cpu_s": (time.process_time() - cpu) / calls}


predictor.predict(rows)
batches = [per_call() for _ in range(3)]
names = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "mlflow",
         "pandas", "numpy", "scikit-learn")  # fmt: skip
print(json.dumps({
    "row": row, "features": len(features),
    "versions": {"python": sys.version.split()[0], **{n: metadata.version(n) for n in names}},
    "floor": {key: statistics.median(b[key] for b in batches) for key in ("wall_s", "cpu_s")},
}))  # fmt: skip
