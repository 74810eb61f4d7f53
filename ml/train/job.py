"""``train``: one training run on a stack, from a data frame to a tracked model artifact.

    result = train(handle, frame, dataset="churn@3", params={"n_estimators": "200"})
    result.job_name, result.model_artifact, result.metrics, result.mlflow_run_id

The frame and hyperparameters are checked first (bad input raises ``TrainingInputError``
before anything is uploaded or submitted); the stack's runner then trains and uploads
``model.tar.gz``; the archive is read back from S3 (so what is reported is what was stored)
and its params, metrics and files are logged to MLflow.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ml.stack import StackHandle
from ml.train import artifacts
from ml.train.contract import TRAIN_CHANNEL, VALIDATION_CHANNEL
from ml.train.entry import DATASET_ENV, GIT_COMMIT_ENV, UNKNOWN
from ml.train.frame import check_training_frame, feature_kinds
from ml.train.params import TrainParams
from ml.train.runners import (
    Runner,
    TrainingRequest,
    runner_for,
    stack_prefix,
    training_job_name,
)
from ml.train.s3 import S3Location, download

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingResult:
    """A finished training run: where its model is, how it scored, where it is tracked."""

    job_name: str
    runner: str
    model_artifact: str
    """s3:// URI of model.tar.gz (SSE-KMS, in the stack's models bucket)."""
    metrics: dict[str, float]
    """Holdout metrics from the job's metrics.json."""
    model_card: dict[str, Any]
    params: TrainParams
    dataset: str
    git_commit: str
    job_arn: str | None
    """The SageMaker training job, when the SageMaker runner ran it."""
    computed_locally: bool
    mlflow_run_id: str | None
    tracking_uri: str | None


def train(
    handle: StackHandle,
    frame: pd.DataFrame,
    *,
    dataset: str,
    params: TrainParams | Mapping[str, Any] | None = None,
    validation: pd.DataFrame | None = None,
    runner: Runner | None = None,
    tracking_uri: str | None = None,
    track: bool = True,
    git_commit: str | None = None,
    now: datetime | None = None,
) -> TrainingResult:
    """Train the reference model on ``frame`` (``dataset`` names it, e.g. ``churn@3``)."""
    from ml.train.tracking import log_training_run, resolve_tracking_uri

    hyper = (
        params
        if isinstance(params, TrainParams)
        else TrainParams.from_hyperparameters(params or {})
    )
    check_training_frame(frame, hyper.label, f"dataset {dataset}")
    feature_kinds(frame, hyper.label, hyper.categorical)  # rejects unknown categorical names
    channels = {TRAIN_CHANNEL: frame}
    if validation is not None:
        check_training_frame(validation, hyper.label, f"the validation frame of {dataset}")
        channels[VALIDATION_CHANNEL] = validation
    chosen = runner or runner_for(handle)
    commit = git_commit or current_git_commit()
    prefix = stack_prefix(handle)
    request = TrainingRequest(
        job_name=training_job_name(prefix, now),
        channels=channels,
        hyperparameters=hyper.to_hyperparameters(),
        environment={DATASET_ENV: dataset, GIT_COMMIT_ENV: commit},
        tags={"mlops:stack": prefix, "mlops:dataset": dataset, "mlops:git-commit": commit},
    )
    outcome = chosen.run(request)

    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        archive = download(
            handle.client("s3"),
            S3Location.parse(outcome.model_artifact),
            Path(tmp) / artifacts.MODEL_ARCHIVE,
        )
        model_dir = artifacts.unpack_archive(archive, Path(tmp) / "model")
        metrics = artifacts.read_metrics(model_dir)
        card = artifacts.read_model_card(model_dir)
        run_id: str | None = None
        uri: str | None = None
        if track:
            uri = resolve_tracking_uri(tracking_uri)
            run_id = log_training_run(
                tracking_uri=uri,
                experiment=prefix,
                run_name=outcome.job_name,
                params=request.hyperparameters,
                metrics=metrics,
                tags={
                    "mlflow.source.git.commit": commit,
                    "mlops.dataset": dataset,
                    "mlops.job_name": outcome.job_name,
                    "mlops.runner": outcome.runner,
                    "mlops.model_artifact": outcome.model_artifact,
                    "mlops.stack": prefix,
                },
                artifacts_dir=model_dir,
            )
            log.info("logged MLflow run %s to %s", run_id, uri)
    return TrainingResult(
        job_name=outcome.job_name,
        runner=outcome.runner,
        model_artifact=outcome.model_artifact,
        metrics=metrics,
        model_card=card,
        params=hyper,
        dataset=dataset,
        git_commit=commit,
        job_arn=outcome.job_arn,
        computed_locally=outcome.computed_locally,
        mlflow_run_id=run_id,
        tracking_uri=uri,
    )


def current_git_commit(cwd: Path | None = None) -> str:
    """HEAD of the source tree the job is submitted from, or "unknown" outside a git tree."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    return result.stdout.strip() if result.returncode == 0 else UNKNOWN
