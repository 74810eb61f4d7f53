"""The sandbox end to end: the local stack deployed into moto's server by the deployer,
checked through boto3, converged, updated, interrupted, and destroyed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest

from infra.sandbox import sandbox
from infra.sandbox.deployer import UnsupportedResourceError
from infra.sandbox.emulator import Emulator
from infra.sandbox.state import StateStore
from ml.stack import StackHandle
from tests.integration.conftest import leftovers

pytestmark = pytest.mark.emulator

PREFIX = "mlops-platform-local"
MODEL_A = {
    "mlops-platform:endpointModelImage": "serving-1.0.0",
    "mlops-platform:endpointModelDataKey": "models/a/model.tar.gz",
}
MODEL_B = {**MODEL_A, "mlops-platform:endpointModelDataKey": "models/b/model.tar.gz"}


def test_deployed_buckets_are_versioned_encrypted_private_and_tls_only(
    ephemeral_stack: StackHandle,
) -> None:
    s3, out = ephemeral_stack.client("s3"), ephemeral_stack.outputs
    for bucket in (out.datasets_bucket, out.models_bucket, out.capture_bucket, out.logs_bucket):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert any(
            st["Effect"] == "Deny"
            and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for st in policy["Statement"]
        )
    for bucket in (out.datasets_bucket, out.models_bucket, out.capture_bucket):
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == out.data_kms_key_arn
        logging = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
        assert logging["TargetBucket"] == out.logs_bucket


def test_keys_rotate_roles_are_scoped_and_ecr_is_immutable(ephemeral_stack: StackHandle) -> None:
    out = ephemeral_stack.outputs
    kms = ephemeral_stack.client("kms")
    assert kms.get_key_rotation_status(KeyId=out.data_kms_key_arn)["KeyRotationEnabled"]
    iam = ephemeral_stack.client("iam")
    role = out.training_role_arn.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert names, "the execution role has its inline least-privilege policy"
    for name in names:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        actions = [a for st in document["Statement"] for a in _list(st.get("Action"))]
        assert "*" not in actions and not any(a.endswith(":*") for a in actions)
    assert not iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    deploy = out.deploy_role_arn.rsplit("/", 1)[-1]
    subject = iam.get_role(RoleName=deploy)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert "repo:example-org/mlops-platform:environment:local" in json.dumps(subject)
    repo = ephemeral_stack.client("ecr").describe_repositories()["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True


def test_alarms_notify_the_alert_topic(ephemeral_stack: StackHandle) -> None:
    out = ephemeral_stack.outputs
    alarms = ephemeral_stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} >= {"FeatureDrift", "PredictionDrift", "Accuracy"}
    for alarm in alarms:
        assert out.alert_topic_arn in alarm["AlarmActions"], alarm["AlarmName"]
    queue = ephemeral_stack.client("sqs").get_queue_attributes(
        QueueUrl=out.retraining_queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert queue["KmsMasterKeyId"] and json.loads(queue["RedrivePolicy"])["maxReceiveCount"] == 3


def test_second_up_changes_nothing(clean_emulator: Emulator, sandbox_project: Path) -> None:
    first = sandbox.up("local", root=sandbox_project, endpoint=clean_emulator.url)
    assert first.report.count("create") > 50
    again = sandbox.up("local", root=sandbox_project, endpoint=clean_emulator.url)
    assert not again.report.changed, again.report.summary()
    assert again.outputs == first.outputs
    sandbox.down("local", root=sandbox_project, keep_emulator=True)
    assert leftovers(clean_emulator, "us-east-1", PREFIX) == []


def test_promoting_a_model_replaces_model_and_config_and_updates_the_endpoint(
    clean_emulator: Emulator, sandbox_project: Path
) -> None:
    up = lambda model: sandbox.up(  # noqa: E731
        "local", root=sandbox_project, endpoint=clean_emulator.url, overrides=model
    )
    first = up(MODEL_A)
    sm = clean_emulator.client("sagemaker", "us-east-1")
    name = first.outputs["endpointName"]
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    old_config = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]

    second = up(MODEL_B)
    changed = {
        (c.action, c.type.rsplit(":", 1)[-1]) for c in second.report.changes if c.action != "same"
    }
    assert changed == {
        ("replace", "Model"),
        ("replace", "EndpointConfiguration"),
        ("update", "Endpoint"),
        ("delete", "Model"),
        ("delete", "EndpointConfiguration"),
    }, second.report.summary()
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] != old_config
    configs = [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]]
    assert configs == [endpoint["EndpointConfigName"]], "the old configuration is gone"
    model = sm.describe_model(
        ModelName=sm.describe_endpoint_config(EndpointConfigName=configs[0])["ProductionVariants"][
            0
        ]["ModelName"]
    )
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("models/b/model.tar.gz")
    sandbox.down("local", root=sandbox_project, keep_emulator=True)
    assert leftovers(clean_emulator, "us-east-1", PREFIX) == []


def test_unsupported_type_fails_before_anything_is_created(
    clean_emulator: Emulator, sandbox_project: Path
) -> None:
    def program() -> None:
        aws.s3.Bucket("fine", bucket="fine-bucket")
        aws.sns.PlatformApplication("exotic", platform="GCM", platform_credential="x")

    with pytest.raises(UnsupportedResourceError, match="aws:sns/platformApplication"):
        sandbox.up("local", root=sandbox_project, endpoint=clean_emulator.url, program=program)
    assert clean_emulator.client("s3", "us-east-1").list_buckets()["Buckets"] == []


def test_an_up_killed_midway_is_finished_by_the_next_up(
    clean_emulator: Emulator, sandbox_project: Path
) -> None:
    env = {**os.environ, "MLOPS_PROJECT_DIR": str(sandbox_project)}
    command = [sys.executable, "-m", "ml.cli.main", "sandbox", "up", "--stack", "local"]
    command += ["--endpoint", clean_emulator.url]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state_file = sandbox_project / ".mlops" / "sandbox" / "local" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if state_file.exists() and _recorded(state_file) >= 15:
            break
        time.sleep(0.02)
    assert child.poll() is None, "the up finished before it could be interrupted"
    child.send_signal(signal.SIGKILL)
    child.wait()
    store = StateStore(state_file.parent, "local")
    half = store.load()
    assert 15 <= len(half.resources) and not half.outputs

    finished = sandbox.up("local", root=sandbox_project, endpoint=clean_emulator.url)
    state = store.load()
    assert all(r.status == "ready" for r in state.resources.values())
    assert finished.outputs["datasetsBucket"]
    again = sandbox.up("local", root=sandbox_project, endpoint=clean_emulator.url)
    assert not again.report.changed
    sandbox.down("local", root=sandbox_project, keep_emulator=True)
    assert leftovers(clean_emulator, "us-east-1", PREFIX) == []


def test_down_after_an_interrupted_up_removes_everything(
    clean_emulator: Emulator, sandbox_project: Path
) -> None:
    env = {**os.environ, "MLOPS_PROJECT_DIR": str(sandbox_project)}
    command = [sys.executable, "-m", "ml.cli.main", "sandbox", "up", "--stack", "local"]
    command += ["--endpoint", clean_emulator.url]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = sandbox_project / ".mlops" / "sandbox" / "local" / "state.json"
    while child.poll() is None and not (state_file.exists() and _recorded(state_file) >= 25):
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    sandbox.down("local", root=sandbox_project, keep_emulator=True)
    assert leftovers(clean_emulator, "us-east-1", PREFIX) == []


def test_cli_up_outputs_down_on_the_embedded_emulator(sandbox_project: Path) -> None:
    """What a user runs on a fresh machine: no endpoint, the toolkit starts its own."""
    env = {**os.environ, "MLOPS_PROJECT_DIR": str(sandbox_project)}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "ml.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    up = run("sandbox", "up", "--stack", "local")
    assert up.returncode == 0, up.stderr
    outputs = run("outputs", "--stack", "local", "--json")
    assert outputs.returncode == 0, outputs.stderr
    data = json.loads(outputs.stdout)
    assert data["stack"] == "local" and data["datasetsBucket"].startswith(PREFIX)
    status = run("sandbox", "status", "--stack", "local")
    assert "aws:s3/bucket:Bucket" in status.stdout
    attached = Emulator.attach(sandbox_project / ".mlops" / "sandbox" / "local")
    assert attached is not None
    try:
        down = run("sandbox", "down", "--stack", "local", "--keep-emulator")
        assert down.returncode == 0, down.stderr
        assert leftovers(attached, "us-east-1", PREFIX) == []
    finally:
        attached.stop()
    assert run("outputs", "--stack", "local").returncode == 2


def _recorded(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["resources"])
    except (ValueError, KeyError):
        return 0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []
