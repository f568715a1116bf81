"""In the project's venv: the drift benchmarks' tables, reference profile and drift check.

``data KIND FOLDER ROWS FILES GROUP``: Parquet files of row groups. ``reference`` and
``current``: 20 numeric features (normal, exponential, uniform), four shifted in
``current`` (+0.5 and +1 sd, the spread doubled, -0.3 sd); ``own``: the project's training
rows resampled with 1% noise. A random stream per kind and file: sizes are reproducible.
``profile PACKAGE TABLE FILE``: the reference profile of a table, as the train stage builds it.
``check PACKAGE PROFILE BATCH FOLDER``: what the ``drift`` command does with a batch, less the
registry: read it partition by partition on the default compute backend, score every feature
against the profile, write the JSON and HTML reports into the folder; prints what drifted.
"""
# mypy: ignore-errors

import json
import sys
from importlib import import_module
from pathlib import Path


def data(kind, out, file_rows, files, group):
    """Each file's row groups drawn and written one at a time: memory stays flat."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

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

    out, (file_rows, files, group) = Path(out), map(int, (file_rows, files, group))
    out.mkdir(parents=True)
    for index in range(files):
        rng, writer = np.random.default_rng([len(kind), index]), None
        for start in range(0, file_rows, group):
            table = pa.Table.from_pandas(chunk(rng, min(group, file_rows - start)))
            writer = writer or pq.ParquetWriter(out / f"part-{index:05d}.parquet", table.schema)
            writer.write_table(table, row_group_size=group)
        writer.close()


def profile(package, table, file):
    """The profile the train stage would build from ``table``."""
    import pandas as pd

    frame = pd.read_parquet(table)
    built = import_module(f"{package}.data.profile").ReferenceProfile.from_frame(frame)
    Path(file).write_text(built.to_json(), encoding="utf-8")


def check(package, profile_file, batch, out):
    """The drift command's work on ``batch``, its reports in ``out``."""
    config = import_module(f"{package}.config")
    report_html = import_module(f"{package}.monitoring.report_html")
    digest = import_module(f"{package}.data.partitions").content_digest
    reference = import_module(f"{package}.data.profile").ReferenceProfile
    detect = import_module(f"{package}.monitoring.drift").detect_batch_drift

    batch, out = Path(batch), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = reference.from_json(Path(profile_file).read_text(encoding="utf-8"))
    report = detect(loaded, batch, config.DriftConfig(), config.ComputeConfig())
    header = report_html.ReportHeader("bench", "1.0.0", batch.name, digest(batch), "-")
    (out / "ours.json").write_text(report.to_json(), encoding="utf-8")
    (out / "ours.html").write_text(report_html.render(report, header), encoding="utf-8")
    print(json.dumps({"drifted": report.drifted_features()}))


if __name__ == "__main__":  # guarded: the local backend's fork server re-imports this file
    {"data": data, "profile": profile, "check": check}[sys.argv[1]](*sys.argv[2:])
