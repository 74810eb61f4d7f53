"""`infra.training`: resolved training settings (pure helpers) and `TrainingCompute`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.plan import UNKNOWN, Plan
from infra.training import (
    MAX_TRAINING_SECONDS,
    SPOT_WAIT_MARGIN_SECONDS,
    TrainingCompute,
    TrainingComputeArgs,
    max_wait_seconds,
    s3_prefix,
    training_log_group_name,
)
from tests.unit.harness import plan_component

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-execution"
BUCKET = f"{PREFIX}-models-{ACCOUNT}-{REGION}"
DATA_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111aaaa-12ab-34cd-56ef-1234567890ab"
LOGS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/2222bbbb-12ab-34cd-56ef-1234567890ab"
BOTH_MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
OUTPUTS = (
    "runner",
    "role_arn",
    "subnet_ids",
    "security_group_ids",
    "kms_key_arn",
    "output_path",
    "checkpoint_path",
    "instance_types",
    "max_instances",
    "max_runtime_seconds",
    "spot",
    "max_wait_seconds",
    "network_isolation",
    "inter_container_encryption",
    "log_group_name",
)


# ---------------------------------------------------------------------------- pure helpers


def test_no_wait_without_spot() -> None:
    assert max_wait_seconds(3600, spot=False) == 0


def test_spot_waits_an_hour_beyond_the_runtime() -> None:
    assert max_wait_seconds(86_400, spot=True) == 86_400 + SPOT_WAIT_MARGIN_SECONDS


@given(st.integers(1, MAX_TRAINING_SECONDS))
def test_spot_wait_covers_the_runtime_within_sagemaker_limits(runtime: int) -> None:
    wait = max_wait_seconds(runtime, spot=True)
    assert runtime <= wait <= MAX_TRAINING_SECONDS
    assert wait == min(runtime + SPOT_WAIT_MARGIN_SECONDS, MAX_TRAINING_SECONDS)


def test_spot_wait_rejects_runtimes_sagemaker_rejects() -> None:
    with pytest.raises(ValueError, match="28-day"):
        max_wait_seconds(MAX_TRAINING_SECONDS + 1, spot=True)


@pytest.mark.parametrize(
    ("bucket", "prefix", "expected"),
    [
        ("b", "training", "s3://b/training/"),
        ("b/", "/checkpoints/", "s3://b/checkpoints/"),
    ],
)
def test_s3_prefix(bucket: str, prefix: str, expected: str) -> None:
    assert s3_prefix(bucket, prefix) == expected


# ---------------------------------------------------------------------------- component


def make_args(**overrides: Any) -> TrainingComputeArgs:
    base = TrainingComputeArgs(
        prefix=PREFIX,
        tags={"owner": "ml-team"},
        role_arn=ROLE,
        models_bucket=BUCKET,
        kms_key_arn=DATA_KEY,
        log_kms_key_arn=LOGS_KEY,
        runner="sagemaker",
        instance_types=("ml.m5.large", "ml.m5.xlarge"),
        max_instances=2,
        max_runtime_seconds=7200,
        spot=False,
        log_retention_days=90,
    )
    return replace(base, **overrides)


def plan_training(
    args: TrainingComputeArgs, preview: bool, seen: dict[str, Any] | None = None
) -> Plan:
    def program() -> None:
        training = TrainingCompute("train", args)
        if seen is not None:
            seen["component"] = training
        for key in OUTPUTS:
            pulumi.export(key, getattr(training, key))

    return plan_component(program, region=REGION, preview=preview)


@BOTH_MODES
def test_creates_only_its_own_encrypted_log_group(preview: bool) -> None:
    plan = plan_training(make_args(), preview)
    component = plan.get("train")
    assert component.type == "mlops:training:TrainingCompute"
    (group,) = [r for r in plan.resources if r.custom]  # no compute: jobs come from ml/
    assert group.type == LOG_GROUP
    assert group.parent == component.urn
    assert group.inputs["name"] == training_log_group_name(PREFIX) == f"/mlops/{PREFIX}/training"
    # Never the account-wide group SageMaker writes to: other stacks share it.
    assert not group.inputs["name"].startswith("/aws/sagemaker")
    assert group.inputs["retentionInDays"] == 90
    assert group.inputs["kmsKeyId"] == LOGS_KEY
    assert group.inputs["tags"]["owner"] == "ml-team"
    assert group.inputs["tags"]["Name"].startswith(PREFIX)


@BOTH_MODES
def test_secure_job_settings_by_default(preview: bool) -> None:
    outputs = plan_training(make_args(), preview).outputs
    assert outputs["network_isolation"] is True
    assert outputs["inter_container_encryption"] is True
    assert outputs["kms_key_arn"] == DATA_KEY
    assert outputs["role_arn"] == ROLE


@BOTH_MODES
def test_security_opt_outs_are_explicit(preview: bool) -> None:
    args = make_args(network_isolation=False, inter_container_encryption=False)
    outputs = plan_training(args, preview).outputs
    assert outputs["network_isolation"] is False
    assert outputs["inter_container_encryption"] is False


@BOTH_MODES
def test_paths_in_the_models_bucket(preview: bool) -> None:
    outputs = plan_training(make_args(), preview).outputs
    assert outputs["output_path"] == f"s3://{BUCKET}/training/"
    assert outputs["checkpoint_path"] == f"s3://{BUCKET}/checkpoints/"


@BOTH_MODES
def test_limits_come_from_config(preview: bool) -> None:
    args = make_args(instance_types=("ml.g5.xlarge",), max_instances=4, runner="local")
    outputs = plan_training(args, preview).outputs
    assert outputs["instance_types"] == ["ml.g5.xlarge"]
    assert outputs["max_instances"] == 4
    assert outputs["max_runtime_seconds"] == 7200
    assert outputs["runner"] == "local"


@BOTH_MODES
@pytest.mark.parametrize(("spot", "wait"), [(False, 0), (True, 7200 + 3600)])
def test_spot_sets_the_wait(preview: bool, spot: bool, wait: int) -> None:
    outputs = plan_training(make_args(spot=spot), preview).outputs
    assert outputs["spot"] is spot
    assert outputs["max_wait_seconds"] == wait


@BOTH_MODES
def test_network_lists_are_empty_without_a_vpc(preview: bool) -> None:
    outputs = plan_training(make_args(), preview).outputs
    assert outputs["subnet_ids"] == []
    assert outputs["security_group_ids"] == []


@BOTH_MODES
def test_network_lists_follow_the_network(preview: bool) -> None:
    def program() -> None:
        import pulumi_aws as aws

        subnet = aws.ec2.Subnet("subnet", vpc_id="vpc-1", cidr_block="10.0.0.0/24")
        group = aws.ec2.SecurityGroup("training-sg", vpc_id="vpc-1")
        training = TrainingCompute(
            "train",
            make_args(subnet_ids=[subnet.id, "subnet-static"], security_group_ids=[group.id]),
        )
        pulumi.export("subnet_ids", training.subnet_ids)
        pulumi.export("security_group_ids", training.security_group_ids)

    plan = plan_component(program, region=REGION, preview=preview)
    if preview:  # one unknown id makes the list unknown, as in `pulumi preview`
        assert plan.outputs["subnet_ids"] == UNKNOWN
        assert plan.outputs["security_group_ids"] == UNKNOWN
    else:
        assert plan.outputs["subnet_ids"] == [plan.get("subnet").id, "subnet-static"]
        assert plan.outputs["security_group_ids"] == [plan.get("training-sg").id]


def test_unknown_bucket_leaves_paths_unknown_in_preview() -> None:
    def program() -> None:
        import pulumi_aws as aws

        bucket = aws.s3.Bucket("models")
        training = TrainingCompute("train", make_args(models_bucket=bucket.bucket))
        pulumi.export("output_path", training.output_path)

    plan = plan_component(program, region=REGION, preview=True)
    assert plan.outputs["output_path"] == UNKNOWN


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"runner": "lambda"}, "runner"),
        ({"instance_types": ()}, "allowlist is empty"),
        ({"max_instances": 0}, "below 1"),
        ({"log_retention_days": 100}, "not a retention"),
        ({"spot": True, "max_runtime_seconds": MAX_TRAINING_SECONDS + 1}, "28-day"),
    ],
)
def test_bad_settings_fail_at_plan_time(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        plan_training(make_args(**overrides), preview=False)


def test_registered_outputs_match_public_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: dict[str, Any] = {}
    original = pulumi.ComponentResource.register_outputs

    def record(self: pulumi.ComponentResource, outputs: Any) -> None:
        registered.update(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", record)
    seen: dict[str, Any] = {}
    plan_training(make_args(), preview=False, seen=seen)
    public = {k for k, v in vars(seen["component"]).items() if isinstance(v, pulumi.Output)}
    assert set(registered) == public - {"urn"} == set(OUTPUTS)
