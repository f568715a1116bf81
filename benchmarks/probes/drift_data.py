"""In the project's venv: Parquet files of row groups for bench_drift.py and bench_scale_out.py.

Arguments: the kind, the folder, rows a file, files, rows a group. ``reference`` and
``current``: 20 numeric features (normal, exponential, uniform), four shifted in
``current`` (+0.5 and +1 sd, the spread doubled, -0.3 sd); ``own``: the project's training
rows resampled with 1% noise. A random stream per kind and file, so sizes are reproducible.
"""
# mypy: ignore-errors

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

kind, out, (file_rows, files, group) = sys.argv[1], Path(sys.argv[2]), map(int, sys.argv[3:6])
if kind == "own":
    own = pd.read_parquet("data/prepared/train.parquet").drop(columns=["target"])


def chunk(rng, rows):
    if kind == "own":
        picked = own.to_numpy()[rng.integers(0, len(own), rows)]
        return pd.DataFrame(picked * rng.normal(1.0, 0.01, picked.shape), columns=own.columns)
    draw = [rng.normal(0.0, 1.0, rows) if i < 10 else rng.exponential(1.0, rows) if i < 15
            else rng.uniform(0.0, 1.0, rows) for i in range(20)]  # fmt: skip
    if kind == "current":
        draw[0] += 0.5
        draw[1] += 1.0
        draw[2] *= 2.0
        draw[3] -= 0.3
    return pd.DataFrame({f"f{i:02d}": values for i, values in enumerate(draw)})


out.mkdir(parents=True)
for index in range(files):
    rng, writer = np.random.default_rng([len(kind), index]), None
    for start in range(0, file_rows, group):
        table = pa.Table.from_pandas(chunk(rng, min(group, file_rows - start)))
        writer = writer or pq.ParquetWriter(out / f"part-{index:05d}.parquet", table.schema)
        writer.write_table(table, row_group_size=group)
    writer.close()
