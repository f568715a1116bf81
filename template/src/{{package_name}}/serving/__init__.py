"""Serving: an HTTP API over one verified model bundle.

It stands on ``models/`` (the adapter), ``registry/provenance`` (digests) and
the ground floor only: no MLflow, no DVC, no registry connection at run time,
so the serving image carries the model and the code that runs it, nothing else.
"""
