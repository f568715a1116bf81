"""In the project's venv: the pipeline's floor, importing its libraries and fitting once.

Argument: the model and split as JSON (``bench_pipeline.floor_spec``, from params.yaml).
Imports what every stage imports (MLflow, pandas, pandera, pyarrow, scikit-learn), loads
the bundled dataset, splits it and fits the configured estimator as the train stage does;
prints the seconds of the imports and of the fit.
"""
# mypy: ignore-errors

import json
import sys
import time
from importlib import import_module

t0 = time.perf_counter()
import mlflow  # noqa: E402, F401
import pandas  # noqa: E402, F401
import pandera.pandas  # noqa: E402, F401
import pyarrow  # noqa: E402, F401
import sklearn  # noqa: E402, F401
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

spec = json.loads(sys.argv[1])
estimator = getattr(import_module(spec["module"]), spec["estimator"])
t1 = time.perf_counter()
frame = getattr(datasets, f"load_{spec['dataset']}")(as_frame=True).frame
x, _, y, _ = train_test_split(
    frame.drop(columns=["target"]), frame["target"], test_size=spec["test_size"],
    random_state=spec["seed"], stratify=frame["target"] if spec["stratify"] else None,
)  # fmt: skip
model = estimator(**spec["params"])
(make_pipeline(StandardScaler(), model) if spec["scaled"] else model).fit(x, y)
print(json.dumps({"import_s": t1 - t0, "fit_s": time.perf_counter() - t1}))
