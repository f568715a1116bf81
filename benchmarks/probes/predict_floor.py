"""In the project's venv: the floor of a batch prediction, for bench_cli.py.

Arguments: the model's joblib file, the rows (CSV). One process importing pandas,
scikit-learn and joblib, loading the model and predicting the rows: what ``predict``
cannot avoid. Prints the predictions, which must equal ``predict``'s.
"""
# mypy: ignore-errors

import json
import sys

import joblib
import pandas as pd
import sklearn  # noqa: F401  the floor pays scikit-learn's import, as predict does

model = joblib.load(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
print(json.dumps({"predictions": model.predict(frame[model.feature_names])["prediction"].tolist()}))
