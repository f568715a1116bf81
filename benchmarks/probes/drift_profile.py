"""In the project's venv: the reference profile of a table, as the train stage builds it.

Arguments: the package, the reference table, the profile file to write.
"""
# mypy: ignore-errors

import sys
from importlib import import_module
from pathlib import Path

import pandas as pd

profile = import_module(f"{sys.argv[1]}.data.profile").ReferenceProfile
frame = pd.read_parquet(sys.argv[2])
Path(sys.argv[3]).write_text(profile.from_frame(frame).to_json(), encoding="utf-8")
