"""In the project's venv: what the ``drift`` command does with a batch, less the registry.

Arguments: the package, the profile, the batch (a file or a directory), the report folder.
Reads the batch partition by partition on the default compute backend, scores every
feature against the profile, writes the JSON and HTML reports; prints what drifted.
"""
# mypy: ignore-errors

import json
import sys
from importlib import import_module
from pathlib import Path


def main() -> None:
    """Guarded: the local backend's fork server re-imports this file in its workers."""
    package, (profile_file, batch, out) = sys.argv[1], (Path(arg) for arg in sys.argv[2:])
    config = import_module(f"{package}.config")
    report_html = import_module(f"{package}.monitoring.report_html")
    digest = import_module(f"{package}.data.partitions").content_digest
    reference = import_module(f"{package}.data.profile").ReferenceProfile
    detect = import_module(f"{package}.monitoring.drift").detect_batch_drift

    profile = reference.from_json(profile_file.read_text(encoding="utf-8"))
    report = detect(profile, batch, config.DriftConfig(), config.ComputeConfig())
    header = report_html.ReportHeader("bench", "1.0.0", batch.name, digest(batch), "-")
    (out / "ours.json").write_text(report.to_json(), encoding="utf-8")
    (out / "ours.html").write_text(report_html.render(report, header), encoding="utf-8")
    scores = {f.name: {"psi": f.psi, "ks": f.ks_statistic} for f in report.features}
    print(json.dumps({"drifted": report.drifted_features(), "scores": scores}))


if __name__ == "__main__":
    main()
