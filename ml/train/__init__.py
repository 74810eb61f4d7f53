"""Training: one entry point for SageMaker's container contract, runners, MLflow tracking.

    from ml.train import train
    result = train(handle, frame, dataset="churn@3", params={"algorithm": "logistic_regression"})
    result.model_artifact   # s3://<models bucket>/training/<job>/output/model.tar.gz (SSE-KMS)

``python -m ml.train.entry`` is the job itself (``ml.train.entry``); ``runner_for`` picks the
stack's runner (``LocalRunner`` or ``SageMakerRunner``); ``ml.train.artifacts`` names the files
a model directory holds. Importing this package loads neither scikit-learn nor MLflow.
"""

from ml.train.artifacts import (
    ARTIFACT_FILES,
    METRICS_FILENAME,
    MODEL_ARCHIVE,
    MODEL_CARD_FILENAME,
    MODEL_FILENAME,
    load_model,
    read_metrics,
    read_model_card,
    unpack_archive,
)
from ml.train.contract import ContainerLayout, TrainingEnvironment
from ml.train.errors import TrainingError, TrainingInputError, TrainingJobFailed
from ml.train.frame import PREDICTION_COLUMN
from ml.train.job import TrainingResult, current_git_commit, train
from ml.train.params import Algorithm, TrainParams, parse_param_pairs
from ml.train.runners import (
    JobOutcome,
    LocalRunner,
    Runner,
    SageMakerRunner,
    TrainingRequest,
    artifact_location,
    runner_for,
    stack_prefix,
    training_job_name,
)
from ml.train.tracking import resolve_tracking_uri

__all__ = [
    "ARTIFACT_FILES",
    "METRICS_FILENAME",
    "MODEL_ARCHIVE",
    "MODEL_CARD_FILENAME",
    "MODEL_FILENAME",
    "PREDICTION_COLUMN",
    "Algorithm",
    "ContainerLayout",
    "JobOutcome",
    "LocalRunner",
    "Runner",
    "SageMakerRunner",
    "TrainParams",
    "TrainingEnvironment",
    "TrainingError",
    "TrainingInputError",
    "TrainingJobFailed",
    "TrainingRequest",
    "TrainingResult",
    "artifact_location",
    "current_git_commit",
    "load_model",
    "parse_param_pairs",
    "read_metrics",
    "read_model_card",
    "resolve_tracking_uri",
    "runner_for",
    "stack_prefix",
    "train",
    "training_job_name",
    "unpack_archive",
]
