"""MLflow tracking of training runs: params, metrics and the model directory's files.

Logging happens on the submitting side, after the job: a SageMaker job runs with network
isolation and cannot reach a tracking server, so the job only writes files and the runner's
caller logs them (the same way for every runner).

The tracking URI is, in order: the one passed in, ``MLFLOW_TRACKING_URI`` (the stack's
tracking server), else a local file store ``file:<project>/.mlops/mlruns``. MLflow 3 keeps
the file store in maintenance mode and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is
set; we set it for file stores only, since that store is exactly what a laptop or a sandbox
wants (no database server, no extra packages). ``mlflow-skinny`` is enough for all of this
and is imported only here, when a run is logged, so that the CLI starts fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

TRACKING_URI_ENV: Final = "MLFLOW_TRACKING_URI"
MLRUNS_DIR: Final = Path(".mlops") / "mlruns"
_ALLOW_FILE_STORE_ENV: Final = "MLFLOW_ALLOW_FILE_STORE"


def resolve_tracking_uri(explicit: str | None = None, project_dir: Path | None = None) -> str:
    """Where runs are logged: ``explicit``, else ``MLFLOW_TRACKING_URI``, else the file store."""
    if explicit:
        return explicit
    if os.environ.get(TRACKING_URI_ENV):
        return os.environ[TRACKING_URI_ENV]
    return ((project_dir or Path.cwd()) / MLRUNS_DIR).resolve().as_uri()


def log_training_run(
    *,
    tracking_uri: str,
    experiment: str,
    run_name: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    artifacts_dir: Path,
) -> str:
    """Record one finished training run; returns the MLflow run id.

    Uses an explicit ``MlflowClient`` (no process-wide active run or tracking URI), so that
    logging never leaks into other code in the same process.
    """
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        os.environ.setdefault(_ALLOW_FILE_STORE_ENV, "true")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient
    from mlflow.utils.time import get_current_time_millis

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
    run_id: str = run.info.run_id
    try:
        now = get_current_time_millis()
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())],
            params=[Param(k, str(v)) for k, v in sorted(params.items())],
            tags=[RunTag(k, v) for k, v in sorted(tags.items())],
        )
        client.log_artifacts(run_id, str(artifacts_dir))
    except Exception:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id
