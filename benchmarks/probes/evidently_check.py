"""In Evidently's own venv: its ``DataDriftPreset`` report on the same tables.

Arguments: the reference table, the current batch, the folder for ``evidently.html``.
Prints the features Evidently flags, by each column test's own threshold.
"""
# mypy: ignore-errors

import json
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import pandas as pd  # noqa: E402
from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
Path(sys.argv[3]).mkdir(parents=True, exist_ok=True)
snapshot.save_html(str(Path(sys.argv[3]) / "evidently.html"))
drifted = []
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if not config.get("type", "").endswith("ValueDrift"):
        continue
    method, value = config["method"], float(metric["value"])
    is_pvalue = "p_value" in method.lower() or method.startswith(("K-S", "chi"))
    if (value < config["threshold"]) if is_pvalue else (value >= config["threshold"]):
        drifted.append(config["column"])
print(json.dumps({"drifted": sorted(drifted)}))
