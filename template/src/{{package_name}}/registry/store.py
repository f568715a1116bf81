"""The registry's only door to MLflow: a thin adapter tests can replace.

Everything the lifecycle needs from MLflow's model registry — versions and
their tags, aliases, registered-model tags and artifact downloads — goes
through :class:`RegistryStore`, so the rules in :mod:`.stages`, :mod:`.audit`
and :mod:`.integrity` stay plain Python, and MLflow's exceptions become the
project's own errors with a message that names the store.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import TrackingServerError
from .artifacts import ArtifactUnavailableError
from .records import VersionRecord


@contextmanager
def _translated(uri: str) -> Iterator[None]:
    """Turn MLflow transport failures into one line naming the store."""
    try:
        yield
    except MlflowException as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Max retries exceeded" in message or "Connection" in message:
            raise TrackingServerError(
                f"MLflow tracking server {uri} stopped answering: {message[:200]}"
            ) from None
        raise


@contextmanager
def _unavailable() -> Iterator[None]:
    """A download MLflow refused, in the terms every :class:`~.artifacts.ArtifactSource` uses."""
    try:
        yield
    except MlflowException as exc:
        raise ArtifactUnavailableError(str(exc) or type(exc).__name__) from exc


class RegistryStore:
    """Versions, tags and aliases of one registered model in MLflow."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client = MlflowClient()
        self.uri = mlflow.get_tracking_uri()

    # -- registered model ------------------------------------------------------

    def ensure_model(self) -> None:
        """Create the registered model on first use."""
        with _translated(self.uri):
            try:
                self.client.get_registered_model(self.name)
            except MlflowException:
                self.client.create_registered_model(self.name)

    def model_tags(self) -> dict[str, str]:
        """Tags of the registered model (empty if it does not exist yet)."""
        with _translated(self.uri):
            try:
                return dict(self.client.get_registered_model(self.name).tags or {})
            except MlflowException:
                return {}

    def set_model_tag(self, key: str, value: str) -> None:
        """Set one registered-model tag."""
        with _translated(self.uri):
            self.client.set_registered_model_tag(self.name, key, value)

    # -- versions --------------------------------------------------------------

    def versions(self) -> list[VersionRecord]:
        """Every version, oldest semantic version first."""
        with _translated(self.uri):
            found = self.client.search_model_versions(f"name = '{self.name}'")
        return sorted((VersionRecord.from_mlflow(mv) for mv in found), key=lambda r: r.sortable)

    def create_version(self, model_uri: str, run_id: str, tags: Mapping[str, str]) -> VersionRecord:
        """Register the logged model ``models:/<model id>`` as a new version carrying ``tags``."""
        logged = model_uri.startswith("models:/m-")
        model_id = model_uri.removeprefix("models:/") if logged else None
        with _translated(self.uri):
            created = self.client.create_model_version(
                self.name, model_uri, run_id=run_id, tags=dict(tags), model_id=model_id
            )
        return VersionRecord.from_mlflow(created)

    def delete_version(self, number: str) -> None:
        """Remove a version (only used to undo a half-finished registration)."""
        with _translated(self.uri):
            self.client.delete_model_version(self.name, number)

    def set_version_tag(self, number: str, key: str, value: str) -> None:
        """Set one model-version tag."""
        with _translated(self.uri):
            self.client.set_model_version_tag(self.name, number, key, value)

    # -- aliases ---------------------------------------------------------------

    def holder(self, alias: str) -> VersionRecord | None:
        """The version holding ``alias``, if any."""
        with _translated(self.uri):
            try:
                return VersionRecord.from_mlflow(
                    self.client.get_model_version_by_alias(self.name, alias)
                )
            except MlflowException:
                return None

    def set_alias(self, alias: str, number: str) -> None:
        """Point ``alias`` at version ``number``."""
        with _translated(self.uri):
            self.client.set_registered_model_alias(self.name, alias, number)

    def delete_alias(self, alias: str) -> None:
        """Remove ``alias``."""
        with _translated(self.uri):
            self.client.delete_registered_model_alias(self.name, alias)

    # -- artifacts -------------------------------------------------------------

    def download_model(self, number: str, destination: Path) -> Path:
        """Download the model files of version ``number`` into ``destination``.

        Raises:
            ArtifactUnavailableError: MLflow could not download them.
        """
        with _unavailable(), _translated(self.uri):
            return Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{self.name}/{number}", dst_path=str(destination)
                )
            )

    def download_run_artifacts(self, run_id: str, path: str, destination: Path) -> Path:
        """Download ``path`` from a run's artifacts into ``destination``.

        Raises:
            ArtifactUnavailableError: MLflow could not download it.
        """
        with _unavailable(), _translated(self.uri):
            return Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=path, dst_path=str(destination)
                )
            )

    def log_run_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        """Record evaluation metrics on the training run, unless it already holds them.

        The evaluate stage runs without MLflow (it only writes files), so the
        metrics reach the run here; a re-run with unchanged metrics adds nothing.
        """
        from mlflow.entities import Metric  # noqa: PLC0415 - only this write needs it
        from mlflow.utils.time import get_current_time_millis  # noqa: PLC0415

        with _translated(self.uri):
            logged = self.client.get_run(run_id).data.metrics
            if all(logged.get(name) == value for name, value in metrics.items()):
                return
            now = get_current_time_millis()
            self.client.log_batch(
                run_id, metrics=[Metric(name, value, now, 0) for name, value in metrics.items()]
            )

    def log_run_artifact(self, run_id: str, local: Path, path: str) -> None:
        """Upload one file to a run's artifacts under ``path``."""
        with _translated(self.uri):
            self.client.log_artifact(run_id, str(local), artifact_path=path)

    def model_location(self, number: str) -> dict[str, Any]:
        """Where a version's files live: its ``models:/`` URI, source and storage location."""
        with _translated(self.uri):
            version = self.client.get_model_version(self.name, number)
            source = str(version.source)
            logged = source.removeprefix("models:/") if source.startswith("models:/m-") else None
            model_id = getattr(version, "model_id", None) or logged
            location = (
                self.client.get_logged_model(model_id).artifact_location
                if model_id
                else version.source
            )
        return {
            "model_uri": f"models:/{self.name}/{number}",
            "source": version.source,
            "artifact_location": location,
        }
