"""Where the pipeline reads and writes, relative to the project root.

``dvc.yaml`` declares the same paths as stage dependencies and outputs;
keeping them in one module keeps the code and the pipeline in step.
"""

from dataclasses import dataclass
from pathlib import Path

from .experiments import origin_root


@dataclass(frozen=True)
class ProjectPaths:
    """Every pipeline file, derived from the project root."""

    root: Path

    @property
    def params(self) -> Path:
        """The single parameters file."""
        return self.root / "params.yaml"

    @property
    def prepared(self) -> Path:
        """Validated train/test split written by ``prepare``."""
        return self.root / "data" / "prepared"

    @property
    def train_data(self) -> Path:
        """Training rows (features + target)."""
        return self.prepared / "train.parquet"

    @property
    def test_data(self) -> Path:
        """Held-out rows used by ``evaluate`` and the gates."""
        return self.prepared / "test.parquet"

    @property
    def model_dir(self) -> Path:
        """The trained model and its run record, written by ``train``."""
        return self.root / "artifacts"

    @property
    def model_file(self) -> Path:
        """The serialized :class:`~.models.adapter.ModelAdapter`."""
        return self.model_dir / "model.joblib"

    @property
    def run_record(self) -> Path:
        """MLflow run id and lineage of the last training run."""
        return self.model_dir / "run.json"

    @property
    def reports(self) -> Path:
        """Metrics, plots and the registration record."""
        return self.root / "reports"

    @property
    def metrics(self) -> Path:
        """Held-out metrics (``dvc metrics`` reads it)."""
        return self.reports / "metrics.json"

    @property
    def plots(self) -> Path:
        """Plot data (``dvc plots`` reads it)."""
        return self.reports / "plots"

    @property
    def registration(self) -> Path:
        """What ``register`` did: version, semver, gates."""
        return self.reports / "registration.json"

    @property
    def bundle(self) -> Path:
        """Where ``just export`` and ``just serve`` put the served model bundle."""
        return self.root / "build" / "model"

    def pipeline_outputs(self) -> list[Path]:
        """Files the pipeline itself rewrites; changes there do not make code "dirty"."""
        return [self.root / "dvc.lock", self.prepared, self.model_dir, self.reports]

    @property
    def registry_lock(self) -> Path:
        """Serialises read-modify-write changes to the model registry.

        Beside the store it guards: a DVC experiment's temporary copy locks the
        project it came from (see :func:`.tracking.local_store_uri`).
        """
        return origin_root(self.root) / ".registry.lock"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest directory upwards that holds ``params.yaml`` (defaults to the cwd)."""
    current = (start or Path.cwd()).resolve()
    for candidate in (current, *current.parents):
        if (candidate / "params.yaml").is_file():
            return candidate
    return current
