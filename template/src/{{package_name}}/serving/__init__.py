"""Serving: an HTTP API over one verified model bundle (and, optionally, a shadow).

It stands on ``models/`` (the adapter), ``registry/provenance`` (digests),
``data/profile`` (the training target's deciles) and the ground floor only:
no MLflow, no DVC, no registry connection at run time, so the serving image
carries the model and the code that runs it, nothing else. OpenTelemetry's
SDK, exporter and instrumentation are imported only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (:mod:`.tracing`).
"""
