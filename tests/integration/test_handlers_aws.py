"""IAM, KMS, ECR, SageMaker, CloudWatch/EventBridge, SNS, SQS and Application Auto Scaling
handlers against the emulator: each type created from the inputs the real program sends
(resource_types.json, with names and ARNs of other resources adapted), checked with boto3
for what matters (encryption, rotation, actions, policies), updated where the provider
updates in place, deleted, and deleted again harmlessly."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.sandbox.emulator import Emulator
from infra.sandbox.handlers import HANDLERS
from infra.sandbox.handlers.base import Context, Handler, not_found

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "mlops-platform-local"
TAGS = {
    "managed-by": "pulumi",
    "cost-center": "CC-0000",
    "data-classification": "confidential",
    "environment": "local",
    "stack": "local",
    "owner": "ml-platform@example.com",
    "Name": f"{PREFIX}-thing",
    "project": "mlops-platform",
}
RETAGGED = {**{k: v for k, v in TAGS.items() if k != "owner"}, "cost-center": "CC-1234"}

# The gap fills these handlers need (infra/sandbox/moto_patches/<service>.py).
_FILL_MODULES = ("applicationautoscaling", "iam", "logs", "sqs")


class _FilledEmulator(Emulator):
    """The embedded emulator, with this module's gap fills installed before it serves and
    moto's copy of the AWS-managed IAM policies not loaded."""

    @classmethod
    def command(cls, host: str, port: int) -> list[str]:
        code = (
            "import os, sys\n"
            # Before moto is imported; moto_app only sets a default for it.
            "os.environ['MOTO_IAM_LOAD_MANAGED_POLICIES'] = 'false'\n"
            f"from infra.sandbox.moto_patches import {', '.join(_FILL_MODULES)}\n"
            f"for fill in ({', '.join(_FILL_MODULES)},):\n"
            "    print('gap fills installed:', ', '.join(fill.install()), flush=True)\n"
            "from infra.sandbox.moto_app import main\n"
            "sys.exit(main(sys.argv[1:]))\n"
        )
        return [sys.executable, "-c", code, "--host", host, "--port", str(port)]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """This module's own emulator (conftest's `clean_emulator` resets it before each test):
    moto's server with the gap fills these handlers need, installed before it serves (as
    `moto_app` will once it installs them itself), and without AWS-managed IAM policies,
    which none of these tests attaches: loading them makes every reset take seconds."""
    running = _FilledEmulator.start(state_dir=tmp_path_factory.mktemp("aws-handlers"))
    yield running
    running.stop()


# --------------------------------------------------------------------------- helpers


def _ctx(emulator: Emulator, logical: str = "test") -> Context:
    return Context(lambda service: emulator.client(service, REGION), REGION, ACCOUNT, "", logical)


def _handler(type_token: str) -> Handler:
    return HANDLERS[type_token]


def _create(
    handler: Handler, ctx: Context, inputs: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Create as the deployer does; returns the id and the handler's own outputs."""
    rid, outputs = handler.create(ctx, inputs)
    json.dumps(outputs)  # the deployer records outputs as JSON
    return rid, outputs


def _update(
    handler: Handler,
    ctx: Context,
    rid: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    outputs: Mapping[str, Any],
) -> dict[str, Any]:
    """Update in place, after checking the deployer would not replace instead."""
    assert not handler.needs_replace(old, new)
    return handler.update(ctx, rid, old, new, outputs)


def _delete_twice(
    handler: Handler,
    ctx: Context,
    rid: str,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
) -> None:
    """Delete as the deployer does (inputs and outputs merged); a second delete is harmless."""
    for _ in range(2):
        handler.delete(ctx, rid, {**inputs, **outputs})


def _gone(call: Callable[[], Any]) -> bool:
    try:
        call()
    except Exception as exc:
        if not_found(exc):
            return True
        raise
    return False


def _tags(pairs: list[dict[str, str]], key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {p[key]: p[value] for p in pairs}


def _policy(sid: str, action: str, resource: str, principal: Any = None) -> str:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": action}
    statement["Resource"] = resource
    if principal is not None:
        statement["Principal"] = principal
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_every_type_of_these_services_has_a_handler() -> None:
    types = {
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:kms/key:Key",
        "aws:kms/alias:Alias",
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:sns/topic:Topic",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:sqs/queue:Queue",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
        "aws:appautoscaling/target:Target",
        "aws:appautoscaling/policy:Policy",
    }
    assert types <= set(HANDLERS), sorted(types - set(HANDLERS))
    assert all(HANDLERS[t].type_token == t for t in types)


# --------------------------------------------------------------------------- IAM

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SageMakerAssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }
)
ROLE_INPUTS: dict[str, Any] = {
    "maxSessionDuration": 3600.0,
    "description": "SageMaker execution role of training jobs, models and endpoints",
    "tags": TAGS,
    "assumeRolePolicy": TRUST,
    "name": f"{PREFIX}-sagemaker-execution",
}


def _role(emulator: Emulator, name: str = f"{PREFIX}-ci-deploy") -> str:
    emulator.client("iam", REGION).create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    return name


def test_role_is_created_updated_in_place_and_deleted(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:iam/role:Role"), _ctx(clean_emulator, "roles-sagemaker-execution")
    iam = clean_emulator.client("iam", REGION)
    rid, out = _create(handler, ctx, ROLE_INPUTS)

    role = iam.get_role(RoleName=rid)["Role"]
    assert rid == ROLE_INPUTS["name"] == out["name"]
    assert out["arn"] == f"arn:aws:iam::{ACCOUNT}:role/{rid}" == role["Arn"]
    assert out["uniqueId"] == role["RoleId"]
    assert role["MaxSessionDuration"] == 3600
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert _tags(role["Tags"]) == TAGS == out["tagsAll"]

    trust = json.loads(TRUST)
    trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] = "210987654321"
    new = {
        **ROLE_INPUTS,
        "maxSessionDuration": 7200.0,
        "description": "changed",
        "assumeRolePolicy": json.dumps(trust),
        "tags": RETAGGED,
    }
    assert handler.needs_replace(ROLE_INPUTS, {**ROLE_INPUTS, "name": "other"})
    out = _update(handler, ctx, rid, ROLE_INPUTS, new, outputs=out)
    role = iam.get_role(RoleName=rid)["Role"]
    assert (role["MaxSessionDuration"], role["Description"]) == (7200, "changed")
    assert role["AssumeRolePolicyDocument"] == trust
    assert _tags(role["Tags"]) == RETAGGED == out["tagsAll"]

    _delete_twice(handler, ctx, rid, new, out)
    assert _gone(lambda: iam.get_role(RoleName=rid))


def test_role_policy_is_put_replaced_by_name_and_deleted(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:iam/rolePolicy:RolePolicy"), _ctx(clean_emulator)
    iam = clean_emulator.client("iam", REGION)
    role = _role(clean_emulator, f"{PREFIX}-monitoring-read")
    inputs = {
        "role": role,
        "policy": _policy("ReadMetrics", "cloudwatch:GetMetricData", "*"),
        "name": "monitoring-read-only",
    }
    rid, out = _create(handler, ctx, inputs)
    assert rid == f"{role}:monitoring-read-only" and out["name"] == "monitoring-read-only"
    document = iam.get_role_policy(RoleName=role, PolicyName="monitoring-read-only")
    assert document["PolicyDocument"] == json.loads(inputs["policy"])

    new = {**inputs, "policy": _policy("ReadAlarms", "cloudwatch:DescribeAlarms", "*")}
    assert handler.needs_replace(inputs, {**inputs, "role": "other"})
    assert handler.needs_replace(inputs, {**inputs, "name": "other"})
    _update(handler, ctx, rid, inputs, new, outputs=out)
    document = iam.get_role_policy(RoleName=role, PolicyName="monitoring-read-only")
    assert document["PolicyDocument"] == json.loads(new["policy"])

    _delete_twice(handler, ctx, rid, new, out)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []


def test_policy_versions_on_update_and_goes_with_all_of_them(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:iam/policy:Policy"), _ctx(clean_emulator)
    iam = clean_emulator.client("iam", REGION)
    inputs: dict[str, Any] = {
        "policy": _policy("StackBuckets", "s3:ListBucket", f"arn:aws:s3:::{PREFIX}-*"),
        "tags": TAGS,
        "description": "Deploy the mlops-platform-local stack: foundation",
        "name": f"{PREFIX}-ci-deploy-foundation",
    }
    rid, out = _create(handler, ctx, inputs)
    assert rid == out["arn"] == f"arn:aws:iam::{ACCOUNT}:policy/{inputs['name']}"
    policy = iam.get_policy(PolicyArn=rid)["Policy"]
    assert out["policyId"] == policy["PolicyId"]
    assert _tags(policy["Tags"]) == TAGS

    # Six documents in a row: IAM holds five versions, so the oldest one makes room.
    current: dict[str, Any] = inputs
    for n in range(6):
        new = {**current, "policy": _policy(f"V{n}", f"s3:GetObject{n}", "*")}
        out = _update(handler, ctx, rid, current, new, outputs=out)
        current = new
    versions = iam.list_policy_versions(PolicyArn=rid)["Versions"]
    default = next(v for v in versions if v["IsDefaultVersion"])
    assert len(versions) == 5
    assert default["Document"] == json.loads(current["policy"])
    assert handler.needs_replace(current, {**current, "description": "another"})

    _delete_twice(handler, ctx, rid, current, out)
    assert _gone(lambda: iam.get_policy(PolicyArn=rid))


def test_role_policy_attachment_attaches_and_detaches(clean_emulator: Emulator) -> None:
    handler, ctx = (
        _handler("aws:iam/rolePolicyAttachment:RolePolicyAttachment"),
        _ctx(clean_emulator),
    )
    iam = clean_emulator.client("iam", REGION)
    role = _role(clean_emulator)
    arn = iam.create_policy(
        PolicyName=f"{PREFIX}-ci-deploy-observability",
        PolicyDocument=_policy("Logs", "logs:DescribeLogGroups", "*"),
    )["Policy"]["Arn"]
    inputs = {"policyArn": arn, "role": role}
    rid, out = _create(handler, ctx, inputs)
    assert rid.startswith(f"{role}-") and rid == _create(handler, ctx, inputs)[0]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    assert handler.needs_replace(inputs, {**inputs, "role": "other"})

    _delete_twice(handler, ctx, rid, inputs, out)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_oidc_provider_audiences_thumbprints_and_tags_change_in_place(
    clean_emulator: Emulator,
) -> None:
    handler = _handler("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    ctx, iam = _ctx(clean_emulator), clean_emulator.client("iam", REGION)
    inputs = {
        "tags": TAGS,
        "clientIdLists": ["sts.amazonaws.com"],
        "url": "https://token.actions.githubusercontent.com",
    }
    rid, out = _create(handler, ctx, inputs)
    assert (
        rid
        == out["arn"]
        == (f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com")
    )
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=rid)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"] == out["clientIdLists"]
    assert out["url"] == "token.actions.githubusercontent.com"  # as IAM reports it
    assert _tags(provider["Tags"]) == TAGS

    new = {
        **inputs,
        "clientIdLists": ["sigstore"],
        "thumbprintLists": ["a" * 40],
        "tags": RETAGGED,
    }
    assert handler.needs_replace(inputs, {**inputs, "url": "https://example.com"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=rid)
    assert provider["ClientIDList"] == ["sigstore"]
    assert provider["ThumbprintList"] == ["a" * 40]
    assert _tags(provider["Tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


# --------------------------------------------------------------------------- KMS

KEY_POLICY = _policy(
    "AccountAdministersKey", "kms:*", "*", principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
)
KEY_INPUTS: dict[str, Any] = {
    "enableKeyRotation": True,
    "description": f"{PREFIX} data key: Data, model artifacts, capture, ECR images",
    "tags": {**TAGS, "key-purpose": "data"},
    "bypassPolicyLockoutSafetyCheck": False,
    "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
    "policy": KEY_POLICY,
    "multiRegion": False,
    "keyUsage": "ENCRYPT_DECRYPT",
    "deletionWindowInDays": 30.0,
}


def _key(emulator: Emulator) -> str:
    return str(emulator.client("kms", REGION).create_key()["KeyMetadata"]["Arn"])


def test_key_rotates_carries_its_policy_and_is_scheduled_for_deletion(
    clean_emulator: Emulator,
) -> None:
    handler, ctx = _handler("aws:kms/key:Key"), _ctx(clean_emulator, "keys-data")
    kms = clean_emulator.client("kms", REGION)
    rid, out = _create(handler, ctx, KEY_INPUTS)

    metadata = kms.describe_key(KeyId=rid)["KeyMetadata"]
    assert rid == out["keyId"] == metadata["KeyId"]
    assert out["arn"] == metadata["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{rid}"
    assert (metadata["KeyUsage"], metadata["KeySpec"]) == ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT")
    assert metadata["Enabled"] and not metadata["MultiRegion"]
    assert kms.get_key_rotation_status(KeyId=rid)["KeyRotationEnabled"]
    policy = kms.get_key_policy(KeyId=rid, PolicyName="default")["Policy"]
    assert json.loads(policy) == json.loads(KEY_POLICY)
    assert (
        _tags(kms.list_resource_tags(KeyId=rid)["Tags"], "TagKey", "TagValue")
        == (KEY_INPUTS["tags"])
    )

    new_policy = _policy(
        "AccountOnly", "kms:Decrypt", "*", principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    )
    new = {**KEY_INPUTS, "description": "changed", "policy": new_policy, "tags": RETAGGED}
    for fixed in ("keyUsage", "customerMasterKeySpec", "multiRegion"):
        assert handler.needs_replace(KEY_INPUTS, {**KEY_INPUTS, fixed: "other"})
    out = _update(handler, ctx, rid, KEY_INPUTS, new, outputs=out)
    assert kms.describe_key(KeyId=rid)["KeyMetadata"]["Description"] == "changed"
    policy = kms.get_key_policy(KeyId=rid, PolicyName="default")["Policy"]
    assert json.loads(policy) == json.loads(new_policy)
    assert kms.get_key_rotation_status(KeyId=rid)["KeyRotationEnabled"]
    assert _tags(kms.list_resource_tags(KeyId=rid)["Tags"], "TagKey", "TagValue") == RETAGGED

    kms.create_alias(AliasName=f"alias/{PREFIX}-data", TargetKeyId=rid)
    _delete_twice(handler, ctx, rid, new, out)
    assert kms.describe_key(KeyId=rid)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.list_aliases(KeyId=rid)["Aliases"] == []  # its name is free again


def test_alias_points_at_its_key_and_moves_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:kms/alias:Alias"), _ctx(clean_emulator)
    kms = clean_emulator.client("kms", REGION)
    first, second = _key(clean_emulator), _key(clean_emulator)
    inputs = {"targetKeyId": first.rsplit("/", 1)[-1], "name": f"alias/{PREFIX}-data"}
    rid, out = _create(handler, ctx, inputs)
    assert rid == inputs["name"] == out["name"]
    assert out["arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/{PREFIX}-data"
    assert out["targetKeyArn"] == first
    [alias] = kms.list_aliases(KeyId=first)["Aliases"]
    assert alias["AliasName"] == rid

    new = {**inputs, "targetKeyId": second}
    assert handler.needs_replace(inputs, {**inputs, "name": "alias/other"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    assert out["targetKeyArn"] == second
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=second)["Aliases"]] == [rid]

    _delete_twice(handler, ctx, rid, new, out)
    assert kms.list_aliases(KeyId=second)["Aliases"] == []


# --------------------------------------------------------------------------- ECR


def test_repository_is_kms_encrypted_scanned_immutable_and_goes(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:ecr/repository:Repository"), _ctx(clean_emulator)
    ecr = clean_emulator.client("ecr", REGION)
    key = _key(clean_emulator)
    inputs = {
        "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": key}],
        "name": f"{PREFIX}-models",
        "tags": TAGS,
        "forceDelete": False,
        "imageScanningConfiguration": {"scanOnPush": True},
        "imageTagMutability": "IMMUTABLE",
    }
    rid, out = _create(handler, ctx, inputs)
    [repo] = ecr.describe_repositories(repositoryNames=[rid])["repositories"]
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": key}
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert (out["registryId"], out["arn"]) == (ACCOUNT, repo["repositoryArn"])
    assert out["repositoryUrl"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{rid}"
    tags = ecr.list_tags_for_resource(resourceArn=out["arn"])["tags"]
    assert _tags(tags) == TAGS

    new = {
        **inputs,
        "imageScanningConfiguration": {"scanOnPush": False},
        "imageTagMutability": "MUTABLE",
        "tags": RETAGGED,
    }
    assert handler.needs_replace(
        inputs, {**inputs, "encryptionConfigurations": [{"encryptionType": "AES256"}]}
    )
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    [repo] = ecr.describe_repositories(repositoryNames=[rid])["repositories"]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["imageTagMutability"] == "MUTABLE"
    assert _tags(ecr.list_tags_for_resource(resourceArn=out["arn"])["tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert _gone(lambda: ecr.describe_repositories(repositoryNames=[rid]))


def test_lifecycle_policy_is_put_and_removed(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:ecr/lifecyclePolicy:LifecyclePolicy"), _ctx(clean_emulator)
    ecr = clean_emulator.client("ecr", REGION)
    repository = ecr.create_repository(repositoryName=f"{PREFIX}-models")["repository"]
    rule = {
        "rulePriority": 1,
        "description": "Expire untagged images (leftovers of re-pushed builds)",
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 1,
        },
        "action": {"type": "expire"},
    }
    inputs = {"repository": repository["repositoryName"], "policy": json.dumps({"rules": [rule]})}
    rid, out = _create(handler, ctx, inputs)
    assert rid == repository["repositoryName"] and out["registryId"] == ACCOUNT
    text = ecr.get_lifecycle_policy(repositoryName=rid)["lifecyclePolicyText"]
    assert json.loads(text) == {"rules": [rule]}

    keep = {
        "rulePriority": 2,
        "description": "Keep only the 5 most recent images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
        "action": {"type": "expire"},
    }
    new = {**inputs, "policy": json.dumps({"rules": [rule, keep]})}
    _update(handler, ctx, rid, inputs, new, outputs=out)
    text = ecr.get_lifecycle_policy(repositoryName=rid)["lifecyclePolicyText"]
    assert json.loads(text) == {"rules": [rule, keep]}

    _delete_twice(handler, ctx, rid, new, out)
    assert _gone(lambda: ecr.get_lifecycle_policy(repositoryName=rid))


# --------------------------------------------------------------------------- SageMaker

EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-execution"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/15d6ecc7-7957-5d84-b7a9-c692e83a8873"
MODEL_INPUTS: dict[str, Any] = {
    "vpcConfig": {
        "subnets": ["subnet-cec2cea2334c228c5", "subnet-802945db3388ff89e"],
        "securityGroupIds": ["sg-14bc326c61880e8f2"],
    },
    "tags": TAGS,
    "enableNetworkIsolation": True,
    "executionRoleArn": EXECUTION_ROLE,
    "primaryContainer": {
        "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PREFIX}-models:serving-1.0.0",
        "modelDataUrl": f"s3://{PREFIX}-models-{ACCOUNT}-{REGION}/examples/churn/model.tar.gz",
    },
}
CAPTURE_INPUTS: dict[str, Any] = {
    "kmsKeyId": KEY_ARN,
    "captureContentTypeHeader": {
        "csvContentTypes": ["text/csv"],
        "jsonContentTypes": ["application/json"],
    },
    "enableCapture": True,
    "initialSamplingPercentage": 50.0,
    "destinationS3Uri": f"s3://{PREFIX}-capture-{ACCOUNT}-{REGION}/{PREFIX}-endpoint/",
    "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
}
DEPLOYMENT_INPUTS: dict[str, Any] = {
    "blueGreenUpdatePolicy": {
        "trafficRoutingConfiguration": {
            "type": "CANARY",
            "waitIntervalInSeconds": 300.0,
            "canarySize": {"value": 10.0, "type": "CAPACITY_PERCENT"},
        },
        "maximumExecutionTimeoutInSeconds": 2400.0,
        "terminationWaitInSeconds": 0.0,
    },
    "autoRollbackConfiguration": {
        "alarms": [
            {"alarmName": f"{PREFIX}-alarm-latency-p99"},
            {"alarmName": f"{PREFIX}-alarm-5xx-errors"},
        ]
    },
}
# What the inputs above must become in the API's shapes (AWS's request members).
DEPLOYMENT_REQUEST: dict[str, Any] = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "WaitIntervalInSeconds": 300,
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        },
        "TerminationWaitInSeconds": 0,
        "MaximumExecutionTimeoutInSeconds": 2400,
    },
    "AutoRollbackConfiguration": {
        "Alarms": [
            {"AlarmName": f"{PREFIX}-alarm-latency-p99"},
            {"AlarmName": f"{PREFIX}-alarm-5xx-errors"},
        ]
    },
}


def _config_inputs(model: str, count: float = 1.0) -> dict[str, Any]:
    return {
        "dataCaptureConfig": CAPTURE_INPUTS,
        "tags": TAGS,
        "kmsKeyArn": KEY_ARN,
        "productionVariants": [
            {
                "variantName": "primary",
                "modelName": model,
                "initialInstanceCount": count,
                "instanceType": "ml.m5.large",
            }
        ],
    }


def _model(emulator: Emulator) -> str:
    name, _ = _handler("aws:sagemaker/model:Model").create(
        _ctx(emulator, "endpoint-model"), MODEL_INPUTS
    )
    return name


def _endpoint_config(emulator: Emulator, model: str, count: float = 1.0) -> str:
    name, _ = _handler("aws:sagemaker/endpointConfiguration:EndpointConfiguration").create(
        _ctx(emulator, "endpoint-config"), _config_inputs(model, count)
    )
    return name


def test_model_package_group_keeps_its_description_and_retags(clean_emulator: Emulator) -> None:
    handler = _handler("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    ctx, sm = _ctx(clean_emulator), clean_emulator.client("sagemaker", REGION)
    inputs = {
        "modelPackageGroupDescription": f"Model versions of {PREFIX}",
        "tags": TAGS,
        "modelPackageGroupName": f"{PREFIX}-models",
    }
    rid, out = _create(handler, ctx, inputs)
    group = sm.describe_model_package_group(ModelPackageGroupName=rid)
    assert rid == inputs["modelPackageGroupName"] and out["arn"] == group["ModelPackageGroupArn"]
    assert _tags(sm.list_tags(ResourceArn=out["arn"])["Tags"]) == TAGS

    new = {**inputs, "tags": RETAGGED}
    assert handler.needs_replace(inputs, {**inputs, "modelPackageGroupDescription": "other"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    assert _tags(sm.list_tags(ResourceArn=out["arn"])["Tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)  # harmless even where the emulator cannot


def test_model_package_group_is_deleted(clean_emulator: Emulator) -> None:
    handler = _handler("aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    ctx, sm = _ctx(clean_emulator), clean_emulator.client("sagemaker", REGION)
    inputs = {"modelPackageGroupName": f"{PREFIX}-models"}
    rid, out = _create(handler, ctx, inputs)
    handler.delete(ctx, rid, {**inputs, **out})
    assert _gone(lambda: sm.describe_model_package_group(ModelPackageGroupName=rid))


def test_model_is_auto_named_and_replaced_on_any_change(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sagemaker/model:Model"), _ctx(clean_emulator, "endpoint-model")
    sm = clean_emulator.client("sagemaker", REGION)
    rid, out = _create(handler, ctx, MODEL_INPUTS)
    assert rid == out["name"] and rid.startswith("endpoint-model-") and len(rid) == 22
    model = sm.describe_model(ModelName=rid)
    assert out["arn"] == model["ModelArn"]
    assert model["ExecutionRoleArn"] == EXECUTION_ROLE
    assert model["PrimaryContainer"] == {
        "Image": MODEL_INPUTS["primaryContainer"]["image"],
        "ModelDataUrl": MODEL_INPUTS["primaryContainer"]["modelDataUrl"],
    }
    assert model["VpcConfig"] == {
        "Subnets": MODEL_INPUTS["vpcConfig"]["subnets"],
        "SecurityGroupIds": MODEL_INPUTS["vpcConfig"]["securityGroupIds"],
    }
    assert handler.needs_replace(MODEL_INPUTS, {**MODEL_INPUTS, "tags": RETAGGED})
    assert not handler.fixed_name(MODEL_INPUTS)  # so the new one comes before the old goes

    _delete_twice(handler, ctx, rid, MODEL_INPUTS, out)
    assert _gone(lambda: sm.describe_model(ModelName=rid))


def test_model_is_network_isolated(clean_emulator: Emulator) -> None:
    rid = _model(clean_emulator)
    model = clean_emulator.client("sagemaker", REGION).describe_model(ModelName=rid)
    assert model["EnableNetworkIsolation"] is True


def test_endpoint_configuration_maps_variants_capture_and_key_exactly(
    clean_emulator: Emulator,
) -> None:
    handler = _handler("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    ctx, sm = _ctx(clean_emulator, "endpoint-config"), clean_emulator.client("sagemaker", REGION)
    model = _model(clean_emulator)
    inputs = _config_inputs(model)
    rid, out = _create(handler, ctx, inputs)
    assert rid == out["name"] and rid.startswith("endpoint-config-")
    config = sm.describe_endpoint_config(EndpointConfigName=rid)
    assert out["arn"] == config["EndpointConfigArn"]
    assert config["KmsKeyId"] == KEY_ARN
    [variant] = config["ProductionVariants"]
    assert {k: variant[k] for k in ("VariantName", "ModelName", "InstanceType")} == {
        "VariantName": "primary",
        "ModelName": model,
        "InstanceType": "ml.m5.large",
    }
    assert variant["InitialInstanceCount"] == 1
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": CAPTURE_INPUTS["destinationS3Uri"],
        "KmsKeyId": KEY_ARN,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    assert _tags(sm.list_tags(ResourceArn=out["arn"])["Tags"]) == TAGS
    assert handler.needs_replace(inputs, _config_inputs(model, count=2.0))

    _delete_twice(handler, ctx, rid, inputs, out)
    assert _gone(lambda: sm.describe_endpoint_config(EndpointConfigName=rid))


def test_endpoint_moves_to_a_new_config_in_place_with_its_deployment_config(
    clean_emulator: Emulator,
) -> None:
    handler, ctx = _handler("aws:sagemaker/endpoint:Endpoint"), _ctx(clean_emulator)
    sm = clean_emulator.client("sagemaker", REGION)
    model = _model(clean_emulator)
    first, second = (
        _endpoint_config(clean_emulator, model),
        _endpoint_config(clean_emulator, model, count=2.0),
    )
    inputs = {
        "tags": TAGS,
        "endpointConfigName": first,
        "deploymentConfig": DEPLOYMENT_INPUTS,
        "name": f"{PREFIX}-endpoint",
    }
    rid, out = _create(handler, ctx, inputs)
    endpoint = sm.describe_endpoint(EndpointName=rid)
    assert rid == inputs["name"] and out["arn"] == endpoint["EndpointArn"]
    assert (endpoint["EndpointConfigName"], endpoint["EndpointStatus"]) == (first, "InService")

    new = {**inputs, "endpointConfigName": second, "tags": RETAGGED}
    assert handler.needs_replace(inputs, {**inputs, "name": "other"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    endpoint = sm.describe_endpoint(EndpointName=rid)
    assert out["arn"] == endpoint["EndpointArn"]
    assert (endpoint["EndpointConfigName"], endpoint["EndpointStatus"]) == (second, "InService")
    assert endpoint["ProductionVariants"][0]["DesiredInstanceCount"] == 2
    assert endpoint["LastDeploymentConfig"] == DEPLOYMENT_REQUEST
    assert _tags(sm.list_tags(ResourceArn=out["arn"])["Tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert _gone(lambda: sm.describe_endpoint(EndpointName=rid))


# --------------------------------------------------------------------------- CloudWatch

TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{PREFIX}-alerts"


def test_log_group_key_and_retention_change_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/logGroup:LogGroup"), _ctx(clean_emulator)
    logs = clean_emulator.client("logs", REGION)
    first, second = _key(clean_emulator), _key(clean_emulator)
    name = f"/mlops/{PREFIX}/pipeline"
    inputs = {"kmsKeyId": first, "tags": TAGS, "retentionInDays": 7.0, "name": name}

    def described() -> dict[str, Any]:
        [group] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return dict(group)

    rid, out = _create(handler, ctx, inputs)
    assert rid == name and out["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    assert (described()["kmsKeyId"], described()["retentionInDays"]) == (first, 7)
    assert logs.list_tags_for_resource(resourceArn=out["arn"])["tags"] == TAGS

    new = {**inputs, "kmsKeyId": second, "retentionInDays": 30.0, "tags": RETAGGED}
    assert handler.needs_replace(inputs, {**inputs, "name": "/other"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    assert (described()["kmsKeyId"], described()["retentionInDays"]) == (second, 30)
    assert logs.list_tags_for_resource(resourceArn=out["arn"])["tags"] == RETAGGED

    bare = {"name": name, "tags": RETAGGED}
    out = _update(handler, ctx, rid, new, bare, outputs=out)
    assert "kmsKeyId" not in described() and "retentionInDays" not in described()

    _delete_twice(handler, ctx, rid, bare, out)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []


def test_log_group_with_skip_destroy_outlives_its_resource(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/logGroup:LogGroup"), _ctx(clean_emulator)
    inputs = {"name": "/kept", "skipDestroy": True}
    rid, out = _create(handler, ctx, inputs)
    handler.delete(ctx, rid, {**inputs, **out})
    groups = clean_emulator.client("logs", REGION).describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/kept"]


ALARM_INPUTS: dict[str, Any] = {
    "okActions": [TOPIC_ARN],
    "threshold": 0.2,
    "tags": TAGS,
    "period": 3600.0,
    "alarmActions": [TOPIC_ARN],
    "datapointsToAlarm": 1.0,
    "dimensions": {"Stack": PREFIX, "EndpointName": f"{PREFIX}-endpoint"},
    "treatMissingData": "notBreaching",
    "name": f"{PREFIX}-alarm-prediction-drift",
    "evaluationPeriods": 24.0,
    "comparisonOperator": "GreaterThanThreshold",
    "statistic": "Maximum",
    "namespace": "MLOps",
    "alarmDescription": "prediction drift (PSI) above 0.2 in the last 24 hours",
    "metricName": "PredictionDrift",
}


def test_metric_alarm_notifies_the_topic_and_changes_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/metricAlarm:MetricAlarm"), _ctx(clean_emulator)
    cloudwatch = clean_emulator.client("cloudwatch", REGION)
    rid, out = _create(handler, ctx, ALARM_INPUTS)

    def described() -> dict[str, Any]:
        [alarm] = cloudwatch.describe_alarms(AlarmNames=[rid])["MetricAlarms"]
        return dict(alarm)

    alarm = described()
    assert rid == ALARM_INPUTS["name"] and out["arn"] == alarm["AlarmArn"]
    assert alarm["AlarmActions"] == alarm["OKActions"] == [TOPIC_ARN]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["Period"]) == (0.2, 24, 3600)
    assert (alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (1, "notBreaching")
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
    assert _tags(alarm["Dimensions"], "Name", "Value") == ALARM_INPUTS["dimensions"]
    assert _tags(cloudwatch.list_tags_for_resource(ResourceARN=out["arn"])["Tags"]) == TAGS

    new = {**ALARM_INPUTS, "threshold": 0.3, "tags": RETAGGED}
    assert handler.needs_replace(ALARM_INPUTS, {**ALARM_INPUTS, "name": "other"})
    out = _update(handler, ctx, rid, ALARM_INPUTS, new, outputs=out)
    assert described()["Threshold"] == 0.3 and described()["AlarmActions"] == [TOPIC_ARN]
    assert _tags(cloudwatch.list_tags_for_resource(ResourceARN=out["arn"])["Tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert cloudwatch.describe_alarms(AlarmNames=[rid])["MetricAlarms"] == []


def test_percentile_alarm_uses_the_extended_statistic(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/metricAlarm:MetricAlarm"), _ctx(clean_emulator)
    inputs = {
        **{k: v for k, v in ALARM_INPUTS.items() if k != "statistic"},
        "name": f"{PREFIX}-alarm-latency-p99",
        "extendedStatistic": "p99",
    }
    rid, _ = _create(handler, ctx, inputs)
    cloudwatch = clean_emulator.client("cloudwatch", REGION)
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[rid])["MetricAlarms"]
    assert alarm["ExtendedStatistic"] == "p99" and "Statistic" not in alarm


def test_dashboard_body_is_put_and_replaced_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/dashboard:Dashboard"), _ctx(clean_emulator)
    cloudwatch = clean_emulator.client("cloudwatch", REGION)
    widget = {
        "type": "metric",
        "properties": {
            "title": "Model latency p99 (ms)",
            "metrics": [["AWS/SageMaker", "ModelLatency", "EndpointName", f"{PREFIX}-endpoint"]],
            "region": REGION,
        },
    }
    inputs = {"dashboardBody": json.dumps({"widgets": [widget]}), "dashboardName": f"{PREFIX}-ml"}
    rid, out = _create(handler, ctx, inputs)
    dashboard = cloudwatch.get_dashboard(DashboardName=rid)
    assert rid == inputs["dashboardName"] and out["dashboardArn"] == dashboard["DashboardArn"]
    assert json.loads(dashboard["DashboardBody"]) == {"widgets": [widget]}

    new = {**inputs, "dashboardBody": json.dumps({"widgets": [widget, widget]})}
    _update(handler, ctx, rid, inputs, new, outputs=out)
    body = json.loads(cloudwatch.get_dashboard(DashboardName=rid)["DashboardBody"])
    assert len(body["widgets"]) == 2

    _delete_twice(handler, ctx, rid, new, out)
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


RULE_INPUTS: dict[str, Any] = {
    "description": f"Scheduled retraining of {PREFIX}.",
    "tags": TAGS,
    "scheduleExpression": "rate(1 day)",
    "name": f"{PREFIX}-retraining-schedule",
}


def test_event_rule_schedule_state_and_tags(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/eventRule:EventRule"), _ctx(clean_emulator)
    events = clean_emulator.client("events", REGION)
    rid, out = _create(handler, ctx, RULE_INPUTS)
    rule = events.describe_rule(Name=rid)
    assert rid == RULE_INPUTS["name"] and out["arn"] == rule["Arn"]
    assert out["arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rid}"
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 day)", "ENABLED")
    assert _tags(events.list_tags_for_resource(ResourceARN=out["arn"])["Tags"]) == TAGS

    new = {**RULE_INPUTS, "scheduleExpression": "rate(7 days)", "state": "DISABLED"}
    new["tags"] = RETAGGED
    assert handler.needs_replace(RULE_INPUTS, {**RULE_INPUTS, "eventBusName": "custom"})
    out = _update(handler, ctx, rid, RULE_INPUTS, new, outputs=out)
    rule = events.describe_rule(Name=rid)
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(7 days)", "DISABLED")
    assert _tags(events.list_tags_for_resource(ResourceARN=out["arn"])["Tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert _gone(lambda: events.describe_rule(Name=rid))


def test_event_target_transforms_input_retries_and_dead_letters(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:cloudwatch/eventTarget:EventTarget"), _ctx(clean_emulator)
    events = clean_emulator.client("events", REGION)
    events.put_rule(Name=RULE_INPUTS["name"], ScheduleExpression="rate(1 day)")
    queue, dlq = (f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining{s}" for s in ("", "-dlq"))
    template = (
        '{"reason": "schedule", "alarm": null, "state": null, "time": "<time>", '
        f'"stack": "{PREFIX}"}}'
    )
    inputs = {
        "rule": RULE_INPUTS["name"],
        "retryPolicy": {"maximumRetryAttempts": 185.0, "maximumEventAgeInSeconds": 86400.0},
        "deadLetterConfig": {"arn": dlq},
        "inputTransformer": {"inputPaths": {"time": "$.time"}, "inputTemplate": template},
        "arn": queue,
        "targetId": "retraining-queue",
    }
    rid, out = _create(handler, ctx, inputs)
    assert rid == f"{RULE_INPUTS['name']}-retraining-queue"
    [target] = events.list_targets_by_rule(Rule=RULE_INPUTS["name"])["Targets"]
    assert target == {
        "Id": "retraining-queue",
        "Arn": queue,
        "InputTransformer": {"InputPathsMap": {"time": "$.time"}, "InputTemplate": template},
        "DeadLetterConfig": {"Arn": dlq},
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
    }

    new = {**inputs, "retryPolicy": {"maximumRetryAttempts": 3.0, "maximumEventAgeInSeconds": 60.0}}
    assert handler.needs_replace(inputs, {**inputs, "targetId": "other"})
    _update(handler, ctx, rid, inputs, new, outputs=out)
    [target] = events.list_targets_by_rule(Rule=RULE_INPUTS["name"])["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}

    _delete_twice(handler, ctx, rid, new, out)
    assert events.list_targets_by_rule(Rule=RULE_INPUTS["name"])["Targets"] == []
    events.delete_rule(Name=RULE_INPUTS["name"])
    handler.delete(ctx, rid, {**new, **out})  # the rule gone too: still harmless


# --------------------------------------------------------------------------- SNS


def test_topic_is_kms_encrypted_and_changes_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sns/topic:Topic"), _ctx(clean_emulator)
    sns = clean_emulator.client("sns", REGION)
    first, second = _key(clean_emulator), _key(clean_emulator)
    inputs = {"kmsMasterKeyId": first, "tags": TAGS, "name": f"{PREFIX}-alerts"}
    rid, out = _create(handler, ctx, inputs)
    assert rid == out["arn"] == TOPIC_ARN and out["name"] == inputs["name"]
    assert out["owner"] == ACCOUNT
    attributes = sns.get_topic_attributes(TopicArn=rid)["Attributes"]
    assert attributes["KmsMasterKeyId"] == first
    assert json.loads(out["policy"])["Statement"]  # the default policy SNS attached
    assert _tags(sns.list_tags_for_resource(ResourceArn=rid)["Tags"]) == TAGS

    new = {**inputs, "kmsMasterKeyId": second, "displayName": "Alerts", "tags": RETAGGED}
    assert handler.needs_replace(inputs, {**inputs, "fifoTopic": True})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    attributes = sns.get_topic_attributes(TopicArn=rid)["Attributes"]
    assert (attributes["KmsMasterKeyId"], attributes["DisplayName"]) == (second, "Alerts")
    assert _tags(sns.list_tags_for_resource(ResourceArn=rid)["Tags"]) == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert _gone(lambda: sns.get_topic_attributes(TopicArn=rid))


def test_topic_policy_is_set_and_reset_to_the_default(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sns/topicPolicy:TopicPolicy"), _ctx(clean_emulator)
    sns = clean_emulator.client("sns", REGION)
    topic = sns.create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
    policy = _policy(
        "AllowCloudWatchAlarms",
        "sns:Publish",
        topic,
        principal={"Service": "cloudwatch.amazonaws.com"},
    )
    inputs = {"policy": policy, "arn": topic}
    rid, out = _create(handler, ctx, inputs)
    assert rid == topic and out["owner"] == ACCOUNT
    held = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    assert json.loads(held) == json.loads(policy)

    events_too = json.loads(policy)
    events_too["Statement"][0]["Principal"]["Service"] = "events.amazonaws.com"
    new = {**inputs, "policy": json.dumps(events_too)}
    _update(handler, ctx, rid, inputs, new, outputs=out)
    held = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
    assert json.loads(held) == events_too

    _delete_twice(handler, ctx, rid, new, out)
    held = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    [statement] = held["Statement"]
    assert statement["Sid"] == "__default_statement_ID"
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    sns.delete_topic(TopicArn=topic)
    handler.delete(ctx, rid, {**new, **out})  # the topic gone too: still harmless


def test_email_subscription_filters_in_place_and_unsubscribes(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sns/topicSubscription:TopicSubscription"), _ctx(clean_emulator)
    sns = clean_emulator.client("sns", REGION)
    topic = sns.create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
    inputs = {"protocol": "email", "endpoint": "ml-oncall@example.com", "topic": topic}
    rid, out = _create(handler, ctx, inputs)
    attributes = sns.get_subscription_attributes(SubscriptionArn=rid)["Attributes"]
    assert rid == out["arn"] and rid.startswith(f"{topic}:")
    assert (attributes["Protocol"], attributes["Endpoint"]) == ("email", "ml-oncall@example.com")
    assert isinstance(out["pendingConfirmation"], bool) and out["ownerId"] == ACCOUNT

    new = {**inputs, "filterPolicy": json.dumps({"severity": ["critical"]})}
    assert handler.needs_replace(inputs, {**inputs, "endpoint": "other@example.com"})
    _update(handler, ctx, rid, inputs, new, outputs=out)
    attributes = sns.get_subscription_attributes(SubscriptionArn=rid)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"severity": ["critical"]}

    _delete_twice(handler, ctx, rid, new, out)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


# --------------------------------------------------------------------------- SQS


def _queue_inputs(name: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "kmsMasterKeyId": key,
        "kmsDataKeyReusePeriodSeconds": 300.0,
        "tags": TAGS,
        "messageRetentionSeconds": 1209600.0,
        "name": name,
        **extra,
    }


def _attributes(emulator: Emulator, url: str) -> dict[str, str]:
    answer = emulator.client("sqs", REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["All"]
    )
    return dict(answer.get("Attributes", {}))


def test_queue_is_kms_encrypted_redrives_and_changes_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sqs/queue:Queue"), _ctx(clean_emulator)
    sqs = clean_emulator.client("sqs", REGION)
    key = _key(clean_emulator)
    dlq_inputs = _queue_inputs(f"{PREFIX}-retraining-dlq", key)
    dlq, dlq_out = _create(handler, ctx, dlq_inputs)
    assert dlq_out["url"] == dlq and dlq_out["name"] == dlq_inputs["name"]
    assert dlq_out["arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{dlq_inputs['name']}"
    held = _attributes(clean_emulator, dlq)
    assert (held["KmsMasterKeyId"], held["KmsDataKeyReusePeriodSeconds"]) == (key, "300")
    assert held["MessageRetentionPeriod"] == "1209600"
    assert sqs.list_queue_tags(QueueUrl=dlq)["Tags"] == TAGS

    redrive = json.dumps({"deadLetterTargetArn": dlq_out["arn"], "maxReceiveCount": 5})
    inputs = _queue_inputs(f"{PREFIX}-retraining", key, redrivePolicy=redrive)
    rid, out = _create(handler, ctx, inputs)
    assert json.loads(_attributes(clean_emulator, rid)["RedrivePolicy"]) == json.loads(redrive)

    # A queue policy set by its own resource survives the queue's own update.
    policy = _policy(
        "AllowRules", "sqs:SendMessage", out["arn"], {"Service": "events.amazonaws.com"}
    )
    sqs.set_queue_attributes(QueueUrl=rid, Attributes={"Policy": policy})
    new = {**inputs, "messageRetentionSeconds": 345600.0, "tags": RETAGGED}
    new.pop("redrivePolicy")
    assert handler.needs_replace(inputs, {**inputs, "name": "other"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    held = _attributes(clean_emulator, rid)
    assert held["MessageRetentionPeriod"] == "345600" and "RedrivePolicy" not in held
    assert json.loads(held["Policy"]) == json.loads(policy)
    assert sqs.list_queue_tags(QueueUrl=rid)["Tags"] == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    _delete_twice(handler, ctx, dlq, dlq_inputs, dlq_out)
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_queue_policy_is_set_and_cleared(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sqs/queuePolicy:QueuePolicy"), _ctx(clean_emulator)
    sqs = clean_emulator.client("sqs", REGION)
    url = sqs.create_queue(QueueName=f"{PREFIX}-retraining")["QueueUrl"]
    arn = _attributes(clean_emulator, url)["QueueArn"]
    policy = _policy("AllowRules", "sqs:SendMessage", arn, {"Service": "events.amazonaws.com"})
    inputs = {"policy": policy, "queueUrl": url}
    rid, out = _create(handler, ctx, inputs)
    assert rid == url and json.loads(_attributes(clean_emulator, url)["Policy"]) == json.loads(
        policy
    )

    new = {**inputs, "policy": _policy("Other", "sqs:SendMessage", arn, {"AWS": ACCOUNT})}
    assert handler.needs_replace(inputs, {**inputs, "queueUrl": "other"})
    _update(handler, ctx, rid, inputs, new, outputs=out)
    assert json.loads(_attributes(clean_emulator, url)["Policy"]) == json.loads(new["policy"])

    _delete_twice(handler, ctx, rid, new, out)
    assert "Policy" not in _attributes(clean_emulator, url)
    sqs.delete_queue(QueueUrl=url)
    handler.delete(ctx, rid, {**new, **out})  # the queue gone too: still harmless


def test_redrive_allow_policy_admits_only_the_source_queue(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"), _ctx(clean_emulator)
    sqs = clean_emulator.client("sqs", REGION)
    dlq = sqs.create_queue(QueueName=f"{PREFIX}-retraining-dlq")["QueueUrl"]
    source = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining"
    allow = {"redrivePermission": "byQueue", "sourceQueueArns": [source]}
    inputs = {"redriveAllowPolicy": json.dumps(allow), "queueUrl": dlq}
    rid, out = _create(handler, ctx, inputs)
    assert rid == dlq
    assert json.loads(_attributes(clean_emulator, dlq)["RedriveAllowPolicy"]) == allow

    new = {**inputs, "redriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})}
    _update(handler, ctx, rid, inputs, new, outputs=out)
    held = json.loads(_attributes(clean_emulator, dlq)["RedriveAllowPolicy"])
    assert held == {"redrivePermission": "denyAll"}

    _delete_twice(handler, ctx, rid, new, out)
    assert "RedriveAllowPolicy" not in _attributes(clean_emulator, dlq)


# --------------------------------------------------------------------------- Auto Scaling

SCALING_KEY: dict[str, str] = {
    "serviceNamespace": "sagemaker",
    "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
    "resourceId": f"endpoint/{PREFIX}-endpoint/variant/primary",
}


def _targets(emulator: Emulator) -> list[dict[str, Any]]:
    scaling = emulator.client("application-autoscaling", REGION)
    answer = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")
    return list(answer["ScalableTargets"])


def test_scalable_target_capacities_and_tags_change_in_place(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:appautoscaling/target:Target"), _ctx(clean_emulator)
    scaling = clean_emulator.client("application-autoscaling", REGION)
    inputs = {**SCALING_KEY, "tags": TAGS, "minCapacity": 1.0, "maxCapacity": 3.0}
    rid, out = _create(handler, ctx, inputs)
    [target] = _targets(clean_emulator)
    assert rid == SCALING_KEY["resourceId"] and out["arn"] == target["ScalableTargetARN"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    assert scaling.list_tags_for_resource(ResourceARN=out["arn"])["Tags"] == TAGS

    new = {**inputs, "maxCapacity": 4.0, "tags": RETAGGED}
    assert handler.needs_replace(inputs, {**inputs, "resourceId": "endpoint/x/variant/primary"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    [target] = _targets(clean_emulator)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    assert scaling.list_tags_for_resource(ResourceARN=out["arn"])["Tags"] == RETAGGED

    _delete_twice(handler, ctx, rid, new, out)
    assert _targets(clean_emulator) == []


def test_target_tracking_policy_is_put_and_deleted(clean_emulator: Emulator) -> None:
    handler, ctx = _handler("aws:appautoscaling/policy:Policy"), _ctx(clean_emulator)
    scaling = clean_emulator.client("application-autoscaling", REGION)
    _handler("aws:appautoscaling/target:Target").create(
        ctx, {**SCALING_KEY, "minCapacity": 1.0, "maxCapacity": 3.0}
    )
    inputs: dict[str, Any] = {
        **SCALING_KEY,
        "targetTrackingScalingPolicyConfiguration": {
            "scaleInCooldown": 300.0,
            "scaleOutCooldown": 60.0,
            "targetValue": 100.0,
            "predefinedMetricSpecification": {
                "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
        "policyType": "TargetTrackingScaling",
        "name": f"{PREFIX}-endpoint-invocations",
    }

    def described() -> dict[str, Any]:
        [policy] = scaling.describe_scaling_policies(
            ServiceNamespace="sagemaker", PolicyNames=[inputs["name"]]
        )["ScalingPolicies"]
        return dict(policy)

    rid, out = _create(handler, ctx, inputs)
    policy = described()
    assert rid == inputs["name"] and out["arn"] == policy["PolicyARN"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60,
    }

    tracking = {**inputs["targetTrackingScalingPolicyConfiguration"], "targetValue": 50.0}
    new = {**inputs, "targetTrackingScalingPolicyConfiguration": tracking}
    assert handler.needs_replace(inputs, {**inputs, "name": "other"})
    out = _update(handler, ctx, rid, inputs, new, outputs=out)
    assert described()["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 50.0

    _delete_twice(handler, ctx, rid, new, out)
    answer = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")
    assert answer["ScalingPolicies"] == []


# --------------------------------------------------------------------------- whole programs


def _deploy(emulator: Emulator, tmp_path: Path, program: Callable[[], None]) -> tuple[Any, Any]:
    """Run `program` through the sandbox deployer (the SDK's own wire form and ordering)."""
    from infra.plan import run_program
    from infra.sandbox.deployer import SandboxMocks
    from infra.sandbox.state import StateStore

    store = StateStore(tmp_path, "t")
    mocks = SandboxMocks(
        store=store,
        previous=store.load(),
        client=lambda s: emulator.client(s, REGION),
        region=REGION,
        account_id=ACCOUNT,
    )
    plan = run_program(
        program, project="mlops-platform", stack="t", config={"aws:region": REGION}, mocks=mocks
    )
    return mocks.finish(plan.outputs), store


def _serving(key_arn: str, model_data_key: str) -> Callable[[], None]:
    """The real serving endpoint and retraining components, as the stack composes them."""

    def program() -> None:
        import pulumi

        from infra.endpoint import ServingEndpoint, ServingEndpointArgs
        from infra.retraining import Retraining, RetrainingArgs

        tags = {"project": "mlops-platform", "environment": "t"}
        alarm = f"{PREFIX}-alarm-prediction-drift"
        serving = ServingEndpoint(
            "endpoint",
            ServingEndpointArgs(
                prefix=PREFIX,
                tags=tags,
                role_arn=EXECUTION_ROLE,
                kms_key_arn=key_arn,
                capture_bucket=f"{PREFIX}-capture",
                models_bucket=f"{PREFIX}-models",
                image="serving-1.0.0",
                repository_url=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PREFIX}-models",
                model_data_key=model_data_key,
                max_instances=3,
                bake_seconds=60,
                rollback_alarm_names=(alarm,),
            ),
        )
        retraining = Retraining(
            "retraining",
            RetrainingArgs(
                prefix=PREFIX,
                tags=tags,
                kms_key_arn=key_arn,
                schedule="rate(1 day)",
                alarm_arns=[f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}"],
            ),
        )
        pulumi.export("endpoint", serving.endpoint_name)
        pulumi.export("config", serving.endpoint_config_name)
        pulumi.export("model", serving.model_name)
        pulumi.export("queue_url", retraining.queue_url)

    return program


def test_endpoint_and_retraining_deploy_move_to_a_new_model_and_go(
    clean_emulator: Emulator, tmp_path: Path
) -> None:
    from infra.sandbox.deployer import destroy

    sm = clean_emulator.client("sagemaker", REGION)
    events, sqs = clean_emulator.client("events", REGION), clean_emulator.client("sqs", REGION)
    key = _key(clean_emulator)

    report, store = _deploy(clean_emulator, tmp_path, _serving(key, "models/a/model.tar.gz"))
    assert report.count("create") == len(report.changes), report.summary()
    first = store.load().outputs
    endpoint = sm.describe_endpoint(EndpointName=first["endpoint"])
    assert (endpoint["EndpointConfigName"], endpoint["EndpointStatus"]) == (
        first["config"],
        "InService",
    )
    config = sm.describe_endpoint_config(EndpointConfigName=first["config"])
    assert config["KmsKeyId"] == key and config["DataCaptureConfig"]["KmsKeyId"] == key
    scaling = clean_emulator.client("application-autoscaling", REGION)
    [target] = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{first['endpoint']}/variant/primary"
    for rule in events.list_rules()["Rules"]:
        [request_target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert request_target["DeadLetterConfig"]["Arn"].endswith("-retraining-dlq")
        assert "InputTransformer" in request_target
    held = sqs.get_queue_attributes(QueueUrl=first["queue_url"], AttributeNames=["All"])
    assert held["Attributes"]["KmsMasterKeyId"] == key
    assert json.loads(held["Attributes"]["Policy"])["Statement"][0]["Effect"] == "Allow"

    # A new model: a new model and config come first, the endpoint moves, the old ones go.
    report, _ = _deploy(clean_emulator, tmp_path, _serving(key, "models/b/model.tar.gz"))
    changed = {(c.action, c.type.rsplit(":", 1)[-1]) for c in report.changes if c.action != "same"}
    assert changed == {
        ("replace", "Model"),
        ("replace", "EndpointConfiguration"),
        ("update", "Endpoint"),
        ("delete", "Model"),
        ("delete", "EndpointConfiguration"),
    }, report.summary()
    second = store.load().outputs
    assert second["endpoint"] == first["endpoint"] and second["config"] != first["config"]
    endpoint = sm.describe_endpoint(EndpointName=second["endpoint"])
    assert endpoint["EndpointConfigName"] == second["config"]
    assert endpoint["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": f"{PREFIX}-alarm-prediction-drift"}
    ]
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [second["model"]]
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [
        second["config"]
    ]

    again, _ = _deploy(clean_emulator, tmp_path, _serving(key, "models/b/model.tar.gz"))
    assert not again.changed, again.summary()

    gone = destroy(
        store.load(),
        store,
        client=lambda s: clean_emulator.client(s, REGION),
        region=REGION,
        account_id=ACCOUNT,
    )
    assert gone.count("delete") == len(gone.changes) > 0
    assert sm.list_endpoints()["Endpoints"] == [] and sm.list_models()["Models"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert events.list_rules()["Rules"] == [] and sqs.list_queues().get("QueueUrls", []) == []
