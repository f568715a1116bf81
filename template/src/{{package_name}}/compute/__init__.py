"""Where the heavy work runs: local processes or a Dask cluster (``compute:`` in params.yaml).

Hyper-parameter search, batch scoring and partitioned drift checks cut their
work into independent tasks (one candidate x fold, one partition) and hand
them to a :class:`~.backend.ComputeBackend`. Both backends run the same task
functions on the same inputs with one BLAS thread each, so what they return
is identical; only where and how fast differ. :func:`open_backend` picks one.
"""

from .backend import ComputeBackend, ComputeError, open_backend, warm_up

__all__ = ["ComputeBackend", "ComputeError", "open_backend", "warm_up"]
