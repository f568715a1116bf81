"""In the project's venv: the scoring reference, MLflow's pyfunc on the whole frame.

Arguments: the package, the registered model's name, the Parquet batch, the output folder.
Loads the champion, predicts ``pd.read_parquet(batch)`` at once and writes it to Parquet.
"""
# mypy: ignore-errors

import json
import sys
from importlib import import_module
from pathlib import Path

import mlflow
import pandas as pd

tracking = import_module(f"{sys.argv[1]}.tracking")
tracking.quiet()
mlflow.set_tracking_uri(tracking.tracking_uri(Path.cwd()))
model = mlflow.pyfunc.load_model(f"models:/{sys.argv[2]}@champion")
predicted = pd.DataFrame(model.predict(pd.read_parquet(sys.argv[3]))).rename(columns=str)
Path(sys.argv[4]).mkdir()
predicted.to_parquet(Path(sys.argv[4]) / "part-00000.parquet")
print(json.dumps({"rows": len(predicted)}))
