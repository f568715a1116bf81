"""A search in MLflow: one child run per candidate under the run that trained (or tuned).

Logged from this process only, after the search, with one batch call per
candidate: workers never talk to the tracking server, so a search on a
cluster needs no MLflow credentials on the workers, and the runs are the same
whichever backend computed them.
"""

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from .search import SearchResult


def log_search(result: SearchResult) -> None:
    """Log ``result`` on the active run, and one nested run per candidate."""
    parent = mlflow.active_run()
    if parent is None:  # pragma: no cover - callers open the run
        raise RuntimeError("log_search needs an active MLflow run")
    summary = result.summary()
    mlflow.log_params(
        {
            "search.method": result.method,
            "search.folds": result.folds,
            "search.candidates": len(result.candidates),
        }
    )
    mlflow.set_tags(
        {"search.backend": result.backend, "search.best_candidate": summary["best_candidate"]}
    )
    mlflow.log_metrics({f"cv_{name}": value for name, value in result.best.means().items()})
    client = mlflow.MlflowClient()
    best = result.best.index
    for candidate in result.candidates:
        run = client.create_run(
            parent.info.experiment_id,
            tags={
                MLFLOW_PARENT_RUN_ID: parent.info.run_id,
                MLFLOW_RUN_NAME: f"candidate-{candidate.index:03d}",
            },
        )
        metrics = [
            Metric(f"cv_{name}", value, 0, fold)
            for fold, scores in enumerate(candidate.folds)
            for name, value in scores.items()
        ]
        metrics += [
            Metric(f"cv_{name}_mean", value, 0, 0) for name, value in candidate.means().items()
        ]
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param(name, str(value)) for name, value in candidate.params.items()],
            tags=[
                RunTag("search.candidate", str(candidate.index)),
                RunTag("search.state", "pruned" if candidate.pruned else "complete"),
                RunTag("search.best", str(candidate.index == best).lower()),
            ],
        )
        client.set_terminated(run.info.run_id)
