"""Monitoring against moto's server over HTTP: capture files in S3 -> metrics in CloudWatch
and Prometheus -> one retraining request on the stack's queue, however many runs see it."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.sandbox.emulator import Emulator
from ml.cli.main import app
from ml.drift import BASELINE_FILENAME
from ml.monitor import (
    ModelContext,
    Window,
    deployed_model,
    prometheus_text,
    read_labels,
    run_monitoring,
)
from ml.monitor.publish import metric_dimensions
from ml.monitor.quality import stack_prefix
from ml.retrain import REQUESTS_PREFIX, Ledger, parse_message, request_retraining
from ml.retrain.request import RetrainingRequest
from ml.stack import StackHandle
from tests.integration.conftest import emulator  # noqa: F401  (the session's moto server)
from tests.ml.test_monitor_support import (
    FIXTURES,
    WINDOW_END,
    WINDOW_START,
    baseline,
    capture_lines,
    deploy_stack,
    population,
    put_capture,
    queued,
)

pytestmark = pytest.mark.emulator

WINDOW = Window(WINDOW_START, WINDOW_END)
HOUR = timedelta(hours=1)
MODEL = "s3://models/model-v1.tar.gz"


@pytest.fixture
def stack(emulator: Emulator) -> StackHandle:  # noqa: F811
    return deploy_stack(emulator)


def _dimensions(handle: StackHandle) -> list[dict[str, str]]:
    """Stack=<prefix>, EndpointName=<endpoint>: what the stack's alarms select."""
    return [
        {"Name": "Stack", "Value": stack_prefix(handle.outputs)},
        {"Name": "EndpointName", "Value": handle.outputs.endpoint_name},
    ]


def _model() -> ModelContext:
    return ModelContext(baseline(), model_version=MODEL, dataset_version="ds-3")


def _statistic(handle: StackHandle, metric: str) -> list[dict[str, Any]]:
    answer = handle.client("cloudwatch").get_metric_statistics(
        Namespace="MLOps",
        MetricName=metric,
        Dimensions=_dimensions(handle),
        StartTime=WINDOW_START - HOUR,
        EndTime=WINDOW_END + 3 * HOUR,
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    return list(answer["Datapoints"])


def test_capture_in_s3_becomes_metrics_in_cloudwatch_and_prometheus(stack: StackHandle) -> None:
    for path in sorted(FIXTURES.glob("*.jsonl")):
        put_capture(stack, path.read_text().splitlines(), WINDOW_START, path.stem)
    put_capture(stack, capture_lines(population(400, 21), WINDOW_START), WINDOW_START, "bulk")
    # Another hour (outside the window) and another endpoint's prefix are not read.
    put_capture(stack, capture_lines(population(50, 22), WINDOW_END), WINDOW_END, "later")

    run = run_monitoring(
        stack, _model(), WINDOW, labels=read_labels(FIXTURES / "labels.csv"), min_rows=5
    )

    result = run.result
    assert (result.rows, result.records, result.files) == (413, 46, 3)
    assert {(line.source.rsplit("/", 1)[-1], line.line) for line in result.skipped} == {
        ("csv-batches.jsonl", 4),
        ("csv-batches.jsonl", 5),
        ("csv-batches.jsonl", 6),
        ("json-and-jsonlines.jsonl", 4),
    }
    assert all(line.source.startswith("s3://") for line in result.skipped)
    assert set(run.published) == {"FeatureDrift", "PredictionDrift", "Accuracy"}
    assert run.published["Accuracy"] == pytest.approx(4 / 6)
    for metric, value in run.published.items():
        points = _statistic(stack, metric)
        assert len(points) == 1 and points[0]["SampleCount"] == 1
        assert points[0]["Maximum"] == pytest.approx(value)
    listed = stack.client("cloudwatch").list_metrics(
        Namespace="MLOps",
        Dimensions=_dimensions(stack),
    )["Metrics"]
    assert {m["MetricName"] for m in listed} == {"FeatureDrift", "PredictionDrift", "Accuracy"}
    assert all(m["Dimensions"] == _dimensions(stack) for m in listed)
    assert metric_dimensions(result.stack, result.endpoint) == _dimensions(stack)
    text = prometheus_text(result)
    labels = f'endpoint_name="{result.endpoint}",stack="{result.stack}"'
    assert f"mlops_accuracy{{{labels}}} {4 / 6!r}" in text
    assert result.latency is not None and result.latency.source == "capture"


def test_below_threshold_queues_nothing(stack: StackHandle) -> None:
    put_capture(stack, capture_lines(population(600, 31), WINDOW_START), WINDOW_START, "a")

    run = run_monitoring(stack, _model(), WINDOW)

    assert run.result.crossed() == ()
    assert run.retraining is not None and run.retraining.status == "not_needed"
    assert queued(stack) == []
    objects = stack.client("s3").list_objects_v2(
        Bucket=stack.outputs.models_bucket, Prefix=REQUESTS_PREFIX
    )
    assert objects.get("KeyCount", 0) == 0


def test_crossing_queues_exactly_one_request_across_two_runs(stack: StackHandle) -> None:
    for hour in (WINDOW_START, WINDOW_END):
        lines = capture_lines(
            population(600, hour.hour, shifted=True), hour, id_prefix=f"h{hour.hour}"
        )
        put_capture(stack, lines, hour, "shifted")

    first = run_monitoring(stack, _model(), WINDOW)
    second = run_monitoring(stack, _model(), Window(WINDOW_END, WINDOW_END + HOUR))

    assert first.retraining is not None and first.retraining.status == "sent"
    assert second.retraining is not None and second.retraining.status == "duplicate"
    assert second.retraining.message_id == first.retraining.message_id
    messages = queued(stack)
    assert len(messages) == 1
    request = parse_message(messages[0]["Body"])
    assert request.key == first.retraining.request.key if first.retraining.request else False
    assert (request.reason, request.reasons) == (
        "feature_drift",
        ("feature_drift", "prediction_drift"),
    )
    assert (request.stack, request.model_version, request.dataset_version) == (
        stack_prefix(stack.outputs),
        MODEL,
        "ds-3",
    )
    assert request.metrics["FeatureDrift"] > request.thresholds["drift_threshold"]
    assert set(request.drifted_features) == {"age", "income", "plan"}
    assert messages[0]["MessageAttributes"]["request_key"]["StringValue"] == request.key
    record = Ledger(stack.client("s3"), stack.outputs.models_bucket).get(request.key)
    assert record is not None and record.status == "sent"
    assert record.message_id == messages[0]["MessageId"]


def _request(handle: StackHandle, key_day: str = "2024-05-01") -> RetrainingRequest:
    return RetrainingRequest.from_monitor(
        reasons=("accuracy",),
        stack=stack_prefix(handle.outputs),
        time=datetime.fromisoformat(f"{key_day}T10:30:00Z"),
        model_version=MODEL,
        window_end=datetime.fromisoformat(f"{key_day}T11:00:00Z"),
    )


def test_a_fresh_claim_blocks_and_a_stale_one_is_taken_over(stack: StackHandle) -> None:
    request = _request(stack)
    ledger = Ledger(stack.client("s3"), stack.outputs.models_bucket)
    now = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    assert ledger.claim(request.key, {}, now - timedelta(minutes=1)) is not None

    assert request_retraining(stack, request, now=now).status == "in_progress"
    assert queued(stack) == []

    later = now + timedelta(hours=1)  # the claimer died: its claim is stale by now
    outcome = request_retraining(stack, request, now=later)
    assert outcome.status == "sent"
    assert len(queued(stack)) == 1
    assert request_retraining(stack, request, now=later).status == "duplicate"


def test_a_failed_send_releases_the_claim(stack: StackHandle) -> None:
    broken = StackHandle(
        stack.outputs.model_copy(
            update={"retraining_queue_url": stack.outputs.retraining_queue_url + "-gone"}
        ),
        endpoint_url=stack.endpoint_url,
    )
    request = _request(stack)
    with pytest.raises(Exception, match="NonExistentQueue|does not exist"):
        request_retraining(broken, request)
    assert Ledger(stack.client("s3"), stack.outputs.models_bucket).get(request.key) is None
    assert request_retraining(stack, request).status == "sent"  # the next run retries


def test_stack_without_a_queue_does_not_send(stack: StackHandle) -> None:
    handle = StackHandle(
        stack.outputs.model_copy(update={"retraining_queue_url": ""}),
        endpoint_url=stack.endpoint_url,
    )
    assert request_retraining(handle, _request(stack)).status == "no_queue"


# --- the CLI, through the public entry point ----------------------------------------------------


def _deploy_model(server: Emulator, stack: StackHandle) -> str:
    """A model archive with the baseline, served by the stack's endpoint."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = baseline().to_json().encode()
        info = tarfile.TarInfo(BASELINE_FILENAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    bucket = stack.outputs.models_bucket
    put = stack.client("s3").put_object(
        Bucket=bucket, Key="models/v1/model.tar.gz", Body=archive.getvalue()
    )
    url = f"s3://{bucket}/models/v1/model.tar.gz"
    sagemaker = server.client("sagemaker")
    role = "arn:aws:iam::123456789012:role/sagemaker-execution"
    name = stack_prefix(stack.outputs)
    sagemaker.create_model(
        ModelName=f"{name}-m1",
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/s:1",
            "ModelDataUrl": url,
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-c1",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{name}-m1",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName=stack.outputs.endpoint_name, EndpointConfigName=f"{name}-c1"
    )
    return f"{url}?versionId={put['VersionId']}"


@pytest.fixture
def cli_env(
    stack: StackHandle,
    emulator: Emulator,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """`mlops --stack test` reads these outputs and reaches the emulator through the
    ordinary AWS environment variables, as it would reach AWS."""
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack.outputs.model_dump(by_alias=True)))
    monkeypatch.setenv("MLOPS_PROJECT_DIR", str(tmp_path))  # no sandbox state there
    monkeypatch.setenv("MLOPS_STACK_OUTPUTS", str(outputs))
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_cli_monitor_from_the_deployed_model(
    stack: StackHandle,
    emulator: Emulator,  # noqa: F811
    cli_env: Path,
) -> None:
    version = _deploy_model(emulator, stack)
    put_capture(
        stack, capture_lines(population(300, 41, shifted=True), WINDOW_START), WINDOW_START, "a"
    )
    for path in sorted(FIXTURES.glob("*.jsonl")):
        put_capture(stack, path.read_text().splitlines(), WINDOW_START, path.stem)
    report, prom = cli_env / "r" / "monitor.html", cli_env / "prom" / "mlops.prom"
    args = ["monitor", "--stack", "test", "--until", "2024-05-01T11:00:00Z", "--min-rows", "5"]
    args += ["--labels", str(FIXTURES / "labels.csv"), "--report", str(report)]
    args += ["--prometheus-file", str(prom), "--dataset-version", "ds-9", "--json"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["model_version"] == version and document["dataset_version"] == "ds-9"
    assert document["rows"] == 313 and len(document["skipped"]) == 4
    assert set(document["published"]) == {"FeatureDrift", "PredictionDrift", "Accuracy"}
    assert document["retraining"]["status"] == "sent"
    assert len(queued(stack)) == 1
    assert report.is_file() and report.with_name("monitor.history.json").is_file()
    assert "mlops_retraining_requested{endpoint_name=" in prom.read_text()

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["retraining"]["status"] == "duplicate"
    assert len(queued(stack)) == 1

    table = CliRunner().invoke(app, [a for a in args if a != "--json"] + ["--no-retrain"])
    assert table.exit_code == 0, table.output
    assert "Feature drift" in table.stdout and "Summary" in table.stdout


def test_cli_bad_labels_exit_2_and_publish_nothing(stack: StackHandle, cli_env: Path) -> None:
    put_capture(
        stack, capture_lines(population(300, 42, shifted=True), WINDOW_START), WINDOW_START, "a"
    )
    baseline_file = cli_env / "baseline.json"
    baseline_file.write_text(baseline().to_json())
    labels = cli_env / "labels.csv"
    labels.write_text("inferenceId,label\nx,1\nx,0\n")

    result = CliRunner().invoke(
        app,
        [
            "monitor",
            "--stack",
            "test",
            "--until",
            "2024-05-01T11:00:00Z",
            "--baseline",
            str(baseline_file),
            "--labels",
            str(labels),
        ],
    )

    assert result.exit_code == 2
    assert str(labels) in result.stderr and "Fix:" in result.stderr
    listed = stack.client("cloudwatch").list_metrics(
        Namespace="MLOps", Dimensions=_dimensions(stack)
    )["Metrics"]
    assert listed == []
    assert queued(stack) == []


def test_cli_without_a_model_says_how_to_fix(stack: StackHandle, cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["monitor", "--stack", "test", "--since", "2h"])
    assert result.exit_code == 2
    assert "--baseline" in result.stderr


def test_the_deployed_model_package_names_model_and_dataset_versions(stack: StackHandle) -> None:
    bucket = stack.outputs.models_bucket
    stack.client("s3").put_object(Bucket=bucket, Key="b.json", Body=baseline().to_json().encode())
    sagemaker = stack.client("sagemaker")
    group = f"{stack_prefix(stack.outputs)}-models"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/s:1",
                    "ModelDataUrl": f"s3://{bucket}/b.json",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"mlops:dataset": "churn", "mlops:datasetVersion": "3"},
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]
    name = stack_prefix(stack.outputs)
    sagemaker.create_model(
        ModelName=f"{name}-pkg",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker-execution",
        PrimaryContainer={"ModelPackageName": arn},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-pkg",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{name}-pkg",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName=stack.outputs.endpoint_name, EndpointConfigName=f"{name}-pkg"
    )

    model = deployed_model(stack)

    assert (model.model_version, model.dataset_version) == (arn, "churn@3")
    assert model.baseline.features == ("age", "income", "plan")
