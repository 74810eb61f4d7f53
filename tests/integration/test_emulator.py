"""The embedded emulator: its lifecycle across processes, and moto's gaps it fills, over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from infra.sandbox.emulator import STATE_FILE, Emulator, EmulatorError

pytestmark = pytest.mark.emulator

ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1.0"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 50,
    "DestinationS3Uri": "s3://capture/endpoint",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- lifecycle ------------------------------------------------------------------------------


def test_start_attach_and_stop_from_another_process(tmp_path: Path) -> None:
    started = Emulator.start(state_dir=tmp_path)
    try:
        record = json.loads((tmp_path / STATE_FILE).read_text())
        assert set(record) >= {"pid", "port", "url", "started_at", "log"}
        assert (record["pid"], record["url"]) == (started.pid, started.url)
        assert started.url == f"http://127.0.0.1:{record['port']}"

        attached = Emulator.attach(tmp_path)
        assert attached is not None
        assert (attached.url, attached.pid) == (started.url, started.pid)
        attached.client("s3").create_bucket(Bucket="shared")
        assert [b["Name"] for b in started.client("s3").list_buckets()["Buckets"]] == ["shared"]

        with pytest.raises(EmulatorError, match="already running"):
            Emulator.start(state_dir=tmp_path)

        # `mlops sandbox down` is another process: attach and stop from there.
        stopper = (
            "import sys; from pathlib import Path; from infra.sandbox.emulator import Emulator;"
            "e = Emulator.attach(Path(sys.argv[1])); print(e.url); e.stop()"
        )
        done = subprocess.run(
            [sys.executable, "-c", stopper, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert done.stdout.strip() == started.url
    finally:
        started.stop()
    started.stop()  # idempotent
    assert Emulator.attach(tmp_path) is None
    assert not (tmp_path / STATE_FILE).exists()
    assert _refused(started.port)
    assert not started.healthy()


def test_stale_or_corrupt_state_file_is_removed(tmp_path: Path) -> None:
    state = tmp_path / STATE_FILE
    state.write_text(json.dumps({"pid": _dead_pid(), "port": 9, "url": "http://127.0.0.1:9"}))
    assert Emulator.attach(tmp_path) is None
    assert not state.exists()

    state.write_text("{not json")
    assert Emulator.attach(tmp_path) is None
    assert not state.exists()


def test_start_replaces_an_emulator_that_stopped_answering(tmp_path: Path) -> None:
    hung = Emulator.start(state_dir=tmp_path)
    try:
        assert hung.pid is not None
        os.kill(hung.pid, signal.SIGSTOP)  # alive, but answers nothing
        assert Emulator.attach(tmp_path) is None
        assert (tmp_path / STATE_FILE).exists()  # kept, so that start can stop it
        fresh = Emulator.start(state_dir=tmp_path)
        assert fresh.pid != hung.pid and fresh.healthy()
        assert hung._process is not None and hung._process.poll() is not None
        fresh.stop()
    finally:
        hung.stop()


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"port {port} .* not available.*Fix"):
            Emulator.start(state_dir=tmp_path, port=port)


def test_start_times_out_kills_the_child_and_quotes_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "child.pid"
    hang = (
        "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid()));"
        "print('booting, never serving', flush=True); time.sleep(60)"
    )
    monkeypatch.setattr(
        Emulator,
        "command",
        classmethod(lambda cls, h, p: [sys.executable, "-c", hang, str(pid_file)]),
    )
    began = time.monotonic()
    with pytest.raises(EmulatorError) as raised:
        Emulator.start(state_dir=tmp_path, timeout=1.5)
    assert time.monotonic() - began < 10
    message = str(raised.value)
    assert "did not answer" in message and "/moto-api/" in message
    assert "booting, never serving" in message and "Fix:" in message
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
    assert not (tmp_path / STATE_FILE).exists()


def test_start_reports_a_child_that_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crash = "import sys; print('ImportError: no module named moto'); sys.exit(3)"
    monkeypatch.setattr(
        Emulator, "command", classmethod(lambda cls, h, p: [sys.executable, "-c", crash])
    )
    with pytest.raises(EmulatorError, match="(?s)exited with code 3.*no module named moto"):
        Emulator.start(state_dir=tmp_path, timeout=10)


# --- external emulators ---------------------------------------------------------------------


def test_external_moto_is_used_but_never_stopped(emulator: Emulator) -> None:
    external = Emulator.external(emulator.url + "/")
    assert (external.url, external.kind, external.is_external) == (emulator.url, "moto", True)
    assert external.healthy()
    external.stop()
    assert emulator.healthy()


class _LocalStackHealth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/_localstack/health"
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b'{"services": {"s3": "running"}}' if ok else b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_localstack() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _LocalStackHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_external_localstack_is_detected_and_reset_is_refused(fake_localstack: str) -> None:
    localstack = Emulator.external(fake_localstack)
    assert localstack.kind == "localstack" and localstack.healthy()
    with pytest.raises(EmulatorError, match="reset is not supported for the localstack"):
        localstack.reset()


def test_external_without_an_emulator_says_what_was_tried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EmulatorError, match="(?s)/moto-api/.*/_localstack/health.*Fix"):
        Emulator.external(f"http://127.0.0.1:{port}")
    with pytest.raises(EmulatorError, match="not an emulator URL"):
        Emulator.external("localhost:4566")


# --- state and environment ------------------------------------------------------------------


def test_reset_empties_s3(clean_emulator: Emulator) -> None:
    s3 = clean_emulator.client("s3")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    clean_emulator.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_env_points_a_child_process_at_the_emulator(clean_emulator: Emulator) -> None:
    env = clean_emulator.env({**os.environ, "AWS_PROFILE": "prod", "AWS_ENDPOINT_URL_S3": "x"})
    assert "AWS_PROFILE" not in env and "AWS_ENDPOINT_URL_S3" not in env
    assert env["SAGEMAKER_VALIDATE_ROLE"] == "false"
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    sagemaker_config = json.loads(Path(env["SAGEMAKER_USER_CONFIG_OVERRIDE"]).read_text())
    assert sagemaker_config["SageMaker"]["PythonSDK"]["Modules"]["TelemetryOptOut"] is True
    child = (
        "import boto3; s3 = boto3.client('s3'); s3.create_bucket(Bucket='from-child');"
        "iam = boto3.client('iam');"
        "iam.create_role(RoleName='r', AssumeRolePolicyDocument='{}');"
        "iam.attach_role_policy(RoleName='r',"
        " PolicyArn='arn:aws:iam::aws:policy/AmazonSageMakerReadOnly')"
    )
    subprocess.run([sys.executable, "-c", child], env=env, check=True, timeout=60)
    assert [b["Name"] for b in clean_emulator.client("s3").list_buckets()["Buckets"]] == [
        "from-child"
    ]
    attached = clean_emulator.client("iam").list_attached_role_policies(RoleName="r")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AmazonSageMakerReadOnly"]


# --- SageMaker gap fills, through boto3 over HTTP --------------------------------------------


def _endpoint(sm: Any, *, capture: bool = True) -> None:
    sm.create_model(
        ModelName="model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models/model.tar.gz"},
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "model",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    extra = {"DataCaptureConfig": CAPTURE} if capture else {}
    sm.create_endpoint_config(EndpointConfigName="config-a", ProductionVariants=[variant], **extra)
    sm.create_endpoint_config(
        EndpointConfigName="config-b", ProductionVariants=[{**variant, "InitialInstanceCount": 2}]
    )
    sm.create_endpoint(EndpointName="endpoint", EndpointConfigName="config-a")


def test_update_endpoint_switches_the_config(clean_emulator: Emulator) -> None:
    sm = clean_emulator.client("sagemaker")
    _endpoint(sm)
    before = sm.describe_endpoint(EndpointName="endpoint")
    time.sleep(0.01)
    deployment = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            "WaitIntervalInSeconds": 0,
        }
    }
    answer = sm.update_endpoint(
        EndpointName="endpoint", EndpointConfigName="config-b", DeploymentConfig=deployment
    )
    after = sm.describe_endpoint(EndpointName="endpoint")
    assert answer["EndpointArn"] == before["EndpointArn"]
    assert (after["EndpointConfigName"], after["EndpointStatus"]) == ("config-b", "InService")
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    assert after["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert "DataCaptureConfig" not in after  # config-b captures nothing
    assert after["LastDeploymentConfig"] == deployment
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName="endpoint", EndpointConfigName="missing")
    with pytest.raises(ClientError, match="Could not find endpoint "):
        sm.update_endpoint(EndpointName="missing", EndpointConfigName="config-b")


def _schedule_config(endpoint: str, cron: str) -> dict[str, Any]:
    return {
        "ScheduleConfig": {"ScheduleExpression": cron},
        "MonitoringJobDefinition": {
            "MonitoringInputs": [
                {"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/in"}}
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri": "s3://monitor/out",
                            "LocalPath": "/opt/ml/processing/out",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 20,
                }
            },
            "MonitoringAppSpecification": {"ImageUri": IMAGE},
            "RoleArn": ROLE,
        },
    }


def test_monitoring_schedule_lifecycle(clean_emulator: Emulator) -> None:
    sm = clean_emulator.client("sagemaker")
    hourly = _schedule_config("endpoint", "cron(0 * ? * * *)")
    arn = sm.create_monitoring_schedule(
        MonitoringScheduleName="drift",
        MonitoringScheduleConfig=hourly,
        Tags=[{"Key": "team", "Value": "ml"}],
    )["MonitoringScheduleArn"]
    assert arn.endswith(":monitoring-schedule/drift")
    sm.create_monitoring_schedule(
        MonitoringScheduleName="other",
        MonitoringScheduleConfig=_schedule_config("elsewhere", "cron(0 0 ? * * *)"),
    )
    with pytest.raises(ClientError, match="ResourceInUse"):
        sm.create_monitoring_schedule(
            MonitoringScheduleName="drift", MonitoringScheduleConfig=hourly
        )

    described = sm.describe_monitoring_schedule(MonitoringScheduleName="drift")
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert (described["EndpointName"], described["MonitoringType"]) == ("endpoint", "DataQuality")
    assert described["MonitoringScheduleConfig"] == hourly
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    listed = sm.list_monitoring_schedules(EndpointName="endpoint")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in listed] == ["drift"]
    by_name = sm.list_monitoring_schedules(SortBy="Name", SortOrder="Ascending", MaxResults=1)
    assert [s["MonitoringScheduleName"] for s in by_name["MonitoringScheduleSummaries"]] == [
        "drift"
    ]
    assert by_name["NextToken"]
    recent = sm.list_monitoring_schedules(CreationTimeAfter=datetime(2000, 1, 1, tzinfo=UTC))
    assert len(recent["MonitoringScheduleSummaries"]) == 2

    daily = _schedule_config("endpoint", "cron(0 0 ? * * *)")
    sm.update_monitoring_schedule(MonitoringScheduleName="drift", MonitoringScheduleConfig=daily)
    updated = sm.describe_monitoring_schedule(MonitoringScheduleName="drift")
    assert updated["MonitoringScheduleConfig"]["ScheduleConfig"] == daily["ScheduleConfig"]
    assert updated["LastModifiedTime"] >= described["LastModifiedTime"]

    sm.stop_monitoring_schedule(MonitoringScheduleName="drift")
    status = sm.describe_monitoring_schedule(MonitoringScheduleName="drift")[
        "MonitoringScheduleStatus"
    ]
    assert status == "Stopped"
    assert [
        s["MonitoringScheduleName"]
        for s in sm.list_monitoring_schedules(StatusEquals="Stopped")["MonitoringScheduleSummaries"]
    ] == ["drift"]
    sm.start_monitoring_schedule(MonitoringScheduleName="drift")
    status = sm.describe_monitoring_schedule(MonitoringScheduleName="drift")[
        "MonitoringScheduleStatus"
    ]
    assert status == "Scheduled"

    sm.delete_monitoring_schedule(MonitoringScheduleName="drift")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sm.describe_monitoring_schedule(MonitoringScheduleName="drift")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sm.delete_monitoring_schedule(MonitoringScheduleName="drift")


def _training_job(sm: Any) -> None:
    sm.create_training_job(
        TrainingJobName="train",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://models/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def test_stop_training_job(clean_emulator: Emulator) -> None:
    sm = clean_emulator.client("sagemaker")
    _training_job(sm)
    sm.stop_training_job(TrainingJobName="train")
    job = sm.describe_training_job(TrainingJobName="train")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert job["SecondaryStatusTransitions"][-1]["Status"] == "Stopped"
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sm.stop_training_job(TrainingJobName="missing")


# Members botocore's model requires but the sagemaker SDK declares optional and AWS leaves
# out when unset: DataCaptureConfigSummary.KmsKeyId (no KMS key configured).
_OPTIONAL_IN_THE_SDK = {"DataCaptureConfig.KmsKeyId"}


def _missing_required(shape: Any, value: Any, path: str = "") -> list[str]:
    """Where `value` lacks a member botocore's output shape requires (what the SDK rejects)."""
    problems: list[str] = []
    if shape.type_name == "structure":
        for name in shape.required_members:
            where = f"{path}.{name}".lstrip(".")
            if value.get(name) is None and where.split("[")[0] not in _OPTIONAL_IN_THE_SDK:
                problems.append(where)
        for name, member in value.items():
            if name in shape.members and name != "ResponseMetadata":
                problems += _missing_required(shape.members[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            problems += _missing_required(shape.member, item, f"{path}[{index}]")
    return problems


def _describe_all(sm: Any) -> dict[str, dict[str, Any]]:
    _endpoint(sm)
    sm.create_model(  # an inference pipeline: Containers, no PrimaryContainer
        ModelName="pipeline", ExecutionRoleArn=ROLE, Containers=[{"Image": IMAGE}]
    )
    sm.create_endpoint(EndpointName="plain", EndpointConfigName="config-b")
    _training_job(sm)
    sm.create_model_package_group(ModelPackageGroupName="models")
    package = sm.create_model_package(
        ModelPackageGroupName="models",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://models/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    return {
        "DescribeEndpoint": sm.describe_endpoint(EndpointName="endpoint"),
        "DescribeEndpoint/plain": sm.describe_endpoint(EndpointName="plain"),
        "DescribeEndpointConfig": sm.describe_endpoint_config(EndpointConfigName="config-a"),
        "DescribeEndpointConfig/plain": sm.describe_endpoint_config(EndpointConfigName="config-b"),
        "DescribeModel": sm.describe_model(ModelName="model"),
        "DescribeModel/pipeline": sm.describe_model(ModelName="pipeline"),
        "DescribeTrainingJob": sm.describe_training_job(TrainingJobName="train"),
        "DescribeModelPackage": sm.describe_model_package(
            ModelPackageName=package["ModelPackageArn"]
        ),
    }


def test_describe_results_are_well_formed(clean_emulator: Emulator) -> None:
    results = _describe_all(clean_emulator.client("sagemaker"))
    model = botocore.session.get_session().get_service_model("sagemaker")
    for key, result in results.items():
        shape = model.operation_model(key.split("/")[0]).output_shape
        assert _missing_required(shape, result) == [], key

    endpoint = results["DescribeEndpoint"]
    variant = endpoint["ProductionVariants"][0]
    assert (variant["CurrentInstanceCount"], variant["CurrentWeight"]) == (1, 1.0)
    [image] = variant["DeployedImages"]
    assert image["SpecifiedImage"] == IMAGE
    assert image["ResolvedImage"].startswith(IMAGE.rsplit(":", 1)[0] + "@sha256:")
    assert endpoint["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 50,
        "DestinationS3Uri": "s3://capture/endpoint",
    }
    assert "DataCaptureConfig" not in results["DescribeEndpoint/plain"]
    assert results["DescribeEndpointConfig"]["DataCaptureConfig"] == CAPTURE
    assert "DataCaptureConfig" not in results["DescribeEndpointConfig/plain"]
    assert "VpcConfig" not in results["DescribeModel"]
    assert "PrimaryContainer" not in results["DescribeModel/pipeline"]
    assert results["DescribeModelPackage"]["ModelPackageName"] == "models"
    assert results["DescribeTrainingJob"]["ModelArtifacts"]["S3ModelArtifacts"].endswith(
        "train/output/model.tar.gz"
    )


def test_describe_results_load_into_the_sagemaker_sdk(clean_emulator: Emulator) -> None:
    resources = pytest.importorskip(
        "sagemaker.core.resources", reason="the sagemaker SDK (v3) is not installed"
    )
    from sagemaker.core.utils.code_injection.codec import transform

    classes = {
        "DescribeEndpoint": resources.Endpoint,
        "DescribeEndpointConfig": resources.EndpointConfig,
        "DescribeModel": resources.Model,
        "DescribeTrainingJob": resources.TrainingJob,
        "DescribeModelPackage": resources.ModelPackage,
    }
    model = botocore.session.get_session().get_service_model("sagemaker")
    for key, result in _describe_all(clean_emulator.client("sagemaker")).items():
        operation = key.split("/")[0]
        shape = model.operation_model(operation).output_shape.name
        classes[operation](**transform(result, shape))  # pydantic: raises if malformed
