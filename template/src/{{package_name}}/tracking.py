"""MLflow set-up: where runs and the registry live, and how long to wait for them.

By default everything stays inside the project: runs and the registry in
``mlflow.db``, artifacts in ``mlartifacts/`` under standard ``file://`` URIs
that any MLflow client reads; a moved or copied project rewrites them to its
own folder before it opens the store (see :mod:`.relocation`). Setting
``MLFLOW_TRACKING_URI`` moves it to a shared server without a code change;
then every command checks the server answers before it starts, and fails
within seconds naming the URI if not.
"""

import logging
import os
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from . import relocation
from .errors import TrackingServerError
from .experiments import origin_root

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
#: Seconds a command waits for a tracking server before giving up (``MLFLOW_CONNECT_TIMEOUT``).
CONNECT_TIMEOUT_ENV = "MLFLOW_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 5.0
LOCAL_STORE = relocation.LOCAL_STORE

# MLflow's defaults retry an unreachable server for minutes and draw progress bars;
# a command line tool should fail fast and stay quiet. Users can still override each.
_MLFLOW_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    # Otherwise every run prints its UI link to stdout, in the middle of a command's JSON.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # MLflow copies a uv project's uv.lock and pyproject.toml into every logged model, and
    # its `uv` environment manager then tries to build this project from them (without
    # src/). The model's requirements.txt already pins what predicting needs.
    "MLFLOW_LOG_UV_FILES": "false",
}


def local_store_uri(root: Path) -> str:
    """The URI of the project's own SQLite store (``mlflow.db``).

    In the temporary copy a DVC experiment runs in (``dvc exp run --temp``, queued
    experiments, ``<project>/.dvc/tmp/exps/…``) it is the store of the project the
    experiment was started from (:func:`.experiments.origin_root`), so the runs land
    where ``mlflow ui`` shows them, not in a store deleted with the copy.
    """
    return f"sqlite:///{(origin_root(root) / LOCAL_STORE).resolve()}"


def tracking_uri(root: Path) -> str:
    """The tracking URI in force: the environment's, else the project's SQLite file."""
    return os.environ.get(TRACKING_URI_ENV) or local_store_uri(root)


def is_local_store(uri: str, root: Path) -> bool:
    """Whether ``uri`` is this project's own SQLite store (not shared with other checkouts)."""
    return uri == local_store_uri(root)


def quiet(verbose: bool = False) -> None:
    """Apply the fail-fast, no-progress-bar defaults; keep MLflow's chatter for ``-v``."""
    for key, value in _MLFLOW_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if not verbose:
        # MLflow warns about CloudPickle and pip on every model it logs: noise for a
        # pipeline whose model format and requirements are fixed by the project.
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
        warnings.filterwarnings("ignore", category=FutureWarning)


def check_reachable(uri: str) -> None:
    """Fail fast when ``uri`` is an HTTP tracking server that does not answer.

    Raises:
        TrackingServerError: the server refused, timed out or answered with an error.
    """
    if not uri.startswith(("http://", "https://")):
        return
    timeout = float(os.environ.get(CONNECT_TIMEOUT_ENV) or DEFAULT_CONNECT_TIMEOUT)
    health = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:  # noqa: S310  # nosec B310 - http(s) only, checked above
            response.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingServerError(
            f"MLflow tracking server {uri} is unreachable ({reason}); start it, fix "
            f"{TRACKING_URI_ENV}, or unset it to use the project's own store "
            f"(wait longer with {CONNECT_TIMEOUT_ENV}=<seconds>)."
        ) from None


def configure(root: Path, experiment: str) -> str:
    """Point MLflow at the project's store and select ``experiment``; return its id.

    The local store is first pointed at this checkout if it was moved or copied
    (:func:`.relocation.relocate`); a new experiment in it keeps its artifacts in
    the project's ``mlartifacts/`` folder.
    """
    import mlflow  # noqa: PLC0415 - importing MLflow costs seconds; only commands that use it pay
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    quiet(verbose=logging.getLogger().isEnabledFor(logging.INFO))
    root = origin_root(root)  # a DVC experiment's temporary copy logs to its project
    uri = tracking_uri(root)
    check_reachable(uri)
    local = is_local_store(uri, root)
    if local:
        relocation.relocate(root)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    existing = client.get_experiment_by_name(experiment)
    if existing is not None:
        mlflow.set_experiment(experiment_id=existing.experiment_id)
        return str(existing.experiment_id)
    location = relocation.artifacts_uri(root) if local else None
    experiment_id = client.create_experiment(experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)
