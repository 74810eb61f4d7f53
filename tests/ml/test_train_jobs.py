"""Training jobs on a stack in the emulator: the same tests under the local runner and under
the SageMaker runner (which submits the job to moto and computes it locally), MLflow
tracking, bad input, and `mlops train`."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from infra.outputs import StackOutputs
from infra.sandbox.emulator import Emulator
from ml.cli import train_cmd
from ml.cli.main import app
from ml.stack import StackHandle
from ml.train import (
    ARTIFACT_FILES,
    LocalRunner,
    SageMakerRunner,
    TrainingInputError,
    TrainingJobFailed,
    TrainingRequest,
    TrainingResult,
    runner_for,
    train,
)
from ml.train.artifacts import unpack_archive
from ml.train.dataset import TrainingData
from tests.integration.conftest import emulator  # noqa: F401  (the session's moto server)
from tests.ml.test_train_entry import churn_frame

# One worker runs this module: its trainings are shared by module-scoped fixtures (with
# `pytest -n 2 --dist loadgroup`; under plain `--dist load` each worker trains its own).
pytestmark = [pytest.mark.emulator, pytest.mark.xdist_group("ml-train-jobs")]

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mlops-platform-test-sagemaker"
REPOSITORY_URL = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mlops-platform-test-models"
INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]
SUBNETS = ["subnet-0a1b2c3d", "subnet-0e4f5a6b"]
SECURITY_GROUPS = ["sg-0c7d8e9f"]
PARAMS = {"seed": "2", "n_estimators": "40"}


@dataclass(frozen=True)
class Aws:
    """What the tests create in the emulator: a KMS key and a versioned models bucket."""

    emulator: Emulator
    key_arn: str
    models_bucket: str

    def client(self, service: str) -> Any:
        return self.emulator.client(service, REGION)

    def objects(self, prefix: str = "") -> list[str]:
        listed = self.client("s3").list_objects_v2(Bucket=self.models_bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def get(self, uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        body: bytes = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body


@pytest.fixture(scope="module")
def aws(emulator: Emulator) -> Aws:  # noqa: F811  (the imported fixture)
    key_arn = emulator.client("kms", REGION).create_key(Description="data")["KeyMetadata"]["Arn"]
    bucket = f"mlops-platform-test-models-{uuid.uuid4().hex[:8]}"
    s3 = emulator.client("s3", REGION)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return Aws(emulator, key_arn, bucket)


def stack_outputs(aws: Aws, runner: str, **changes: Any) -> StackOutputs:
    """A stack's outputs as `mlops sandbox up` would export them, pointing at `aws`."""
    models = aws.models_bucket
    values: dict[str, Any] = {
        "stack": "test",
        "environment": "local",
        "region": REGION,
        "account_id": ACCOUNT,
        "datasets_bucket": "mlops-platform-test-datasets",
        "models_bucket": models,
        "capture_bucket": "mlops-platform-test-capture",
        "logs_bucket": "mlops-platform-test-logs",
        "data_kms_key_arn": aws.key_arn,
        "ecr_repository_url": REPOSITORY_URL,
        "model_package_group_name": "mlops-platform-test-models",
        "registry_auto_approve": False,
        "gate_metric": "auc",
        "gate_minimum": 0.6,
        "gate_max_regression": 0.0,
        "training_runner": runner,
        "training_role_arn": ROLE_ARN,
        "training_instance_types": INSTANCE_TYPES,
        "training_max_instances": 1,
        "training_max_runtime_seconds": 600,
        "training_spot": True,
        "training_output_path": f"s3://{models}/training/",
        "training_checkpoint_path": f"s3://{models}/checkpoints/",
        "training_subnet_ids": SUBNETS,
        "training_security_group_ids": SECURITY_GROUPS,
        "endpoint_name": "mlops-platform-test-endpoint",
        "endpoint_deployed": False,
        "endpoint_capture_path": "s3://mlops-platform-test-capture/mlops-platform-test-endpoint/",
        "metrics_namespace": "MLOps",
        "alert_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:mlops-platform-test-alerts",
        "drift_threshold": 0.2,
        "prediction_drift_threshold": 0.1,
        "min_accuracy": 0.7,
        "retraining_queue_url": "",
        "deploy_role_arn": f"arn:aws:iam::{ACCOUNT}:role/mlops-platform-test-deploy",
        "preview_role_arn": "",
        "monitoring_role_arn": f"arn:aws:iam::{ACCOUNT}:role/mlops-platform-test-monitoring",
    }
    return StackOutputs.model_validate({**values, **changes})


@dataclass(frozen=True)
class Runs:
    """Two trainings with the same data and hyperparameters on one runner."""

    runner: str
    handle: StackHandle
    frame: pd.DataFrame
    tracking_uri: str
    first: TrainingResult
    second: TrainingResult


def _train_twice(runner: str, aws: Aws, tmp: Path) -> Runs:
    handle = StackHandle(stack_outputs(aws, runner), endpoint_url=aws.emulator.url)
    frame = churn_frame(300, seed=4)
    tracking_uri = (tmp / "mlruns").as_uri()
    first, second = (
        train(
            handle,
            frame,
            dataset="churn@v1",
            params=PARAMS,
            tracking_uri=tracking_uri,
            git_commit="abc123",
        )
        for _ in range(2)
    )
    return Runs(runner, handle, frame, tracking_uri, first, second)


@pytest.fixture(scope="module")
def local_runs(aws: Aws, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return _train_twice("local", aws, tmp_path_factory.mktemp("local"))


@pytest.fixture(scope="module")
def sagemaker_runs(aws: Aws, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return _train_twice("sagemaker", aws, tmp_path_factory.mktemp("sagemaker"))


@pytest.fixture(params=["local", "sagemaker"])
def runs(request: pytest.FixtureRequest) -> Runs:
    """The same runs under each runner, so every test below holds for both."""
    result: Runs = request.getfixturevalue(f"{request.param}_runs")
    return result


# --- the same behaviour under both runners ------------------------------------------------------


def test_the_artifact_lands_in_the_models_bucket_with_sse_kms(runs: Runs, aws: Aws) -> None:
    for result in (runs.first, runs.second):
        prefix = f"training/{result.job_name}/output/"
        assert result.runner == runs.runner
        assert result.model_artifact == f"s3://{aws.models_bucket}/{prefix}model.tar.gz"
        assert aws.objects(prefix) == [f"{prefix}model.tar.gz", f"{prefix}output.tar.gz"]
        for key in aws.objects(prefix):
            head = aws.client("s3").head_object(Bucket=aws.models_bucket, Key=key)
            assert head["ServerSideEncryption"] == "aws:kms"
            assert head["SSEKMSKeyId"] == aws.key_arn


def test_the_artifact_holds_model_baseline_metrics_and_card(
    runs: Runs, aws: Aws, tmp_path: Path
) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(aws.get(runs.first.model_artifact))

    model_dir = unpack_archive(archive, tmp_path / "model")

    assert sorted(p.name for p in model_dir.iterdir()) == sorted(ARTIFACT_FILES)
    assert json.loads((model_dir / "metrics.json").read_text()) == runs.first.metrics
    card = json.loads((model_dir / "model_card.json").read_text())
    assert (card["dataset"], card["git_commit"]) == ("churn@v1", "abc123")
    assert card["params"] == runs.first.params.to_hyperparameters()
    assert runs.first.metrics["auc"] > 0.6


def test_two_runs_give_identical_metrics_predictions_and_bytes(
    runs: Runs, aws: Aws, tmp_path: Path
) -> None:
    models = []
    for name, result in (("a", runs.first), ("b", runs.second)):
        archive = tmp_path / f"{name}.tar.gz"
        archive.write_bytes(aws.get(result.model_artifact))
        models.append(joblib.load(unpack_archive(archive, tmp_path / name) / "model.joblib"))

    assert runs.first.job_name != runs.second.job_name
    assert runs.first.metrics == runs.second.metrics
    features = runs.frame.drop(columns=["label"])
    np.testing.assert_array_equal(
        models[0].predict_proba(features), models[1].predict_proba(features)
    )
    assert aws.get(runs.first.model_artifact) == aws.get(runs.second.model_artifact)


def test_the_run_is_recorded_in_mlflow(runs: Runs) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=runs.tracking_uri)
    run_id = runs.first.mlflow_run_id
    assert run_id is not None

    recorded = client.get_run(run_id)

    assert recorded.info.status == "FINISHED"
    assert recorded.info.run_name == runs.first.job_name
    assert recorded.data.params == runs.first.params.to_hyperparameters()
    assert recorded.data.metrics == pytest.approx(runs.first.metrics, abs=1e-12)
    assert recorded.data.tags["mlops.model_artifact"] == runs.first.model_artifact
    assert recorded.data.tags["mlops.runner"] == runs.runner
    assert recorded.data.tags["mlflow.source.git.commit"] == "abc123"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert artifacts == set(ARTIFACT_FILES)
    experiment = client.get_experiment(recorded.info.experiment_id)
    assert experiment.name == "mlops-platform-test"


# --- what each runner does with SageMaker -----------------------------------------------------


def test_the_sagemaker_job_is_recorded_with_the_stacks_settings(
    sagemaker_runs: Runs, aws: Aws
) -> None:
    result = sagemaker_runs.first
    sagemaker = aws.client("sagemaker")

    job = sagemaker.describe_training_job(TrainingJobName=result.job_name)

    assert result.job_arn == job["TrainingJobArn"]
    assert result.computed_locally
    assert job["TrainingJobStatus"] == "Completed"
    assert job["RoleArn"] == ROLE_ARN
    assert job["VpcConfig"] == {"SecurityGroupIds": SECURITY_GROUPS, "Subnets": SUBNETS}
    assert job["EnableNetworkIsolation"] is True
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert job["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{aws.models_bucket}/training/",
        "KmsKeyId": aws.key_arn,
    }
    assert job["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
        "VolumeKmsKeyId": aws.key_arn,
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 4200}
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"] == {
        "S3Uri": f"s3://{aws.models_bucket}/checkpoints/{result.job_name}/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert job["HyperParameters"] == result.params.to_hyperparameters()
    assert job["AlgorithmSpecification"]["TrainingImage"] == f"{REPOSITORY_URL}:latest"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == result.model_artifact
    (channel,) = job["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    input_prefix = f"training/{result.job_name}/input/train/"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{aws.models_bucket}/{input_prefix}"
    )
    (input_key,) = aws.objects(input_prefix)
    head = aws.client("s3").head_object(Bucket=aws.models_bucket, Key=input_key)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", aws.key_arn)
    sent = pd.read_csv(io.BytesIO(aws.get(f"s3://{aws.models_bucket}/{input_key}")))
    pd.testing.assert_frame_equal(sent, sagemaker_runs.frame)


def test_the_local_runner_submits_no_sagemaker_job(local_runs: Runs, aws: Aws) -> None:
    jobs = aws.client("sagemaker").list_training_jobs(NameContains="mlops-platform-test")

    names = {job["TrainingJobName"] for job in jobs["TrainingJobSummaries"]}

    assert local_runs.first.job_arn is None
    assert local_runs.first.job_name not in names


def test_instance_types_outside_the_allowlist_are_rejected(aws: Aws) -> None:
    handle = StackHandle(stack_outputs(aws, "sagemaker"), endpoint_url=aws.emulator.url)

    with pytest.raises(TrainingInputError, match=r"allowed: ml\.m5\.large, ml\.m5\.xlarge"):
        SageMakerRunner(handle, instance_type="ml.p4d.24xlarge")


def test_without_a_vpc_or_spot_the_job_omits_them(aws: Aws) -> None:
    outputs = stack_outputs(
        aws,
        "sagemaker",
        training_spot=False,
        training_subnet_ids=[],
        training_security_group_ids=[],
    )
    runner = SageMakerRunner(StackHandle(outputs), instance_type="ml.m5.xlarge")
    request = TrainingRequest("job", {"train": churn_frame(10)}, {"seed": "1"})

    definition = runner.job_definition(request, {"train": "s3://b/k/"})

    assert "VpcConfig" not in definition
    assert "EnableManagedSpotTraining" not in definition
    assert "CheckpointConfig" not in definition
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert definition["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"


@pytest.mark.parametrize("runner", ["local", "sagemaker"])
def test_a_failing_job_uploads_no_model(runner: str, aws: Aws) -> None:
    handle = StackHandle(stack_outputs(aws, runner), endpoint_url=aws.emulator.url)
    job_name = f"mlops-platform-test-train-fails-{runner}"
    chosen = LocalRunner(handle) if runner == "local" else SageMakerRunner(handle)
    # Straight to the runner: train() would have refused this label before submitting.
    request = TrainingRequest(job_name, {"train": churn_frame(50)}, {"label": "churned"})

    with pytest.raises(TrainingJobFailed, match="no label column 'churned'"):
        chosen.run(request)

    assert aws.objects(f"training/{job_name}/output/") == []
    if runner == "sagemaker":
        job = aws.client("sagemaker").describe_training_job(TrainingJobName=job_name)
        assert job["TrainingJobStatus"] == "Stopped"


def test_bad_input_is_refused_before_anything_is_uploaded(aws: Aws) -> None:
    handle = StackHandle(stack_outputs(aws, "sagemaker"), endpoint_url=aws.emulator.url)
    before = aws.objects()

    with pytest.raises(TrainingInputError, match="no label column 'label'"):
        train(handle, churn_frame(50).drop(columns=["label"]), dataset="churn@v1", track=False)
    with pytest.raises(TrainingInputError, match="unknown hyperparameter 'depth'"):
        train(handle, churn_frame(50), dataset="churn@v1", params={"depth": "3"}, track=False)

    assert aws.objects() == before


# --- mlops train --------------------------------------------------------------------------------


@pytest.fixture
def cli_stack(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackHandle]:
    """`mlops train` on a local-runner stack, with the dataset served from memory."""
    handle = StackHandle(stack_outputs(aws, "local"), endpoint_url=aws.emulator.url)
    frame = churn_frame(200, seed=9)
    monkeypatch.setattr(train_cmd, "_open_stack", lambda stack: handle)
    monkeypatch.setattr(
        train_cmd,
        "_load_training_data",
        lambda handle, ref: TrainingData(frame, "churn@v7", "label", ("plan", "region")),
    )
    monkeypatch.setattr(train_cmd, "_project_dir", lambda: tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield handle


def test_mlops_train_prints_job_metrics_and_artifact(
    cli_stack: StackHandle, aws: Aws, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["train", "--stack", "test", "--dataset", "churn@latest", "-p", "seed=3", "--json"]
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["runner"] == "local" and summary["dataset"] == "churn@v7"
    assert summary["model_artifact"].startswith(f"s3://{aws.models_bucket}/training/")
    assert summary["model_artifact"].endswith(f"{summary['job_name']}/output/model.tar.gz")
    assert set(summary["metrics"]) == {"auc", "accuracy", "f1", "logloss", "rows", "train_rows"}
    assert (tmp_path / ".mlops" / "mlruns").is_dir()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "churn"], "is not NAME@VERSION"),
        (["--dataset", "churn@v1", "-p", "n_estimator=5"], "unknown hyperparameter"),
        (["--dataset", "churn@v1", "-p", "seed"], "is not key=value"),
    ],
)
def test_mlops_train_rejects_bad_input_with_exit_code_2(
    cli_stack: StackHandle, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["train", "--stack", "test", *args])

    assert result.exit_code == 2
    assert message in result.stderr


def test_the_stack_chooses_the_runner(aws: Aws) -> None:
    def handle(runner: str) -> StackHandle:
        return StackHandle(stack_outputs(aws, runner), endpoint_url=aws.emulator.url)

    assert isinstance(runner_for(handle("local")), LocalRunner)
    assert isinstance(runner_for(handle("sagemaker")), SageMakerRunner)
    with pytest.raises(TrainingInputError, match="runner 'kubernetes', which ml.train"):
        runner_for(handle("kubernetes"))
