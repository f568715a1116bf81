"""In the project's venv and directory: the pipeline's floor, its imports and one fit.

Imports what every stage imports (MLflow, pandas, pandera, pyarrow, scikit-learn), loads
the bundled dataset, splits it as ``params.yaml`` says and fits its model, one of the two
defaults bench_pipeline.py renders (scaled logistic regression or ridge), as train does.
"""
# mypy: ignore-errors

from pathlib import Path

import mlflow  # noqa: F401
import pandas  # noqa: F401
import pandera.pandas  # noqa: F401
import pyarrow  # noqa: F401
import yaml
from sklearn import datasets
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
estimator = {"logistic_regression": LogisticRegression, "ridge": Ridge}.get(params["model"]["kind"])
if estimator is None:
    raise SystemExit(f"the floor fits logistic_regression or ridge, not {params['model']['kind']}")
frame = getattr(datasets, f"load_{params['data']['dataset']}")(as_frame=True).frame
stratify = frame["target"] if params["task"] == "classification" else None
x, _, y, _ = train_test_split(
    frame.drop(columns=["target"]), frame["target"], test_size=params["split"]["test_size"],
    random_state=params["split"]["seed"], stratify=stratify,
)  # fmt: skip
make_pipeline(StandardScaler(), estimator(**(params["model"].get("params") or {}))).fit(x, y)
