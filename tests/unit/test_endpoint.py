"""Serving endpoint: pure helpers, and the component's graph under mocks (normal + preview)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.endpoint import (
    PROVIDER_WAIT_SECONDS,
    SCALABLE_DIMENSION,
    SCALE_IN_COOLDOWN_SECONDS,
    SCALE_OUT_COOLDOWN_SECONDS,
    SCALING_METRIC,
    TERMINATION_WAIT_SECONDS,
    VARIANT_NAME,
    EndpointArgsError,
    ServingEndpoint,
    ServingEndpointArgs,
    capture_destination,
    deployment_seconds,
    execution_timeout,
    has_local_storage,
    image_uri,
    s3_uri,
    scaling_resource_id,
    traffic_steps,
    validate_args,
)
from infra.naming import endpoint_name
from infra.plan import UNKNOWN, CapturedResource, Plan, RealisticMocks
from tests.unit.harness import plan_component

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
TAGS = {"project": "mlops-platform", "environment": "test", "owner": "ml-team"}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-execution"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{PREFIX}-serving"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/3"
ROLLBACK = (f"{PREFIX}-alarm-latency-p99", f"{PREFIX}-alarm-5xx-errors")
MODEL_T = "aws:sagemaker/model:Model"
CONFIG_T = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT_T = "aws:sagemaker/endpoint:Endpoint"
TARGET_T = "aws:appautoscaling/target:Target"
POLICY_T = "aws:appautoscaling/policy:Policy"
COMPONENT_T = "mlops:endpoint:ServingEndpoint"
OUTPUTS = ("endpoint_name", "endpoint_arn", "endpoint_config_name", "model_name", "capture_path")
MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])


class FreshNameMocks(RealisticMocks):
    """Auto-named resources get a name derived from their inputs: as in a real replacement,
    a changed resource comes back under a new name (RealisticMocks keys names on the URN)."""

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        rid, state = super().new_resource(args)
        if args.custom and not self.preview and "name" not in args.inputs:
            body = json.dumps(dict(args.inputs), sort_keys=True, default=str)
            state["name"] = f"{args.name}-{hashlib.sha1(body.encode()).hexdigest()[:8]}"
        return rid, state


def _args(**overrides: Any) -> ServingEndpointArgs:
    values: dict[str, Any] = {
        "prefix": PREFIX,
        "tags": TAGS,
        "role_arn": ROLE,
        "kms_key_arn": KEY,
        "capture_bucket": "capture-bucket",
        "models_bucket": "models-bucket",
        "image": "serving-1.4.2",
        "repository_url": REPO,
        "model_data_key": "churn/v3/model.tar.gz",
        "rollback_alarm_names": ROLLBACK,
        "min_instances": 1,
        "max_instances": 3,
    }
    return ServingEndpointArgs(**{**values, **overrides})


def _program(args: ServingEndpointArgs) -> Callable[[], None]:
    def program() -> None:
        endpoint = ServingEndpoint("serving", args)
        for key in OUTPUTS:
            pulumi.export(key, getattr(endpoint, key))

    return program


def _run(args: ServingEndpointArgs, *, preview: bool = False, mocks: Any = None) -> Plan:
    return plan_component(_program(args), region=REGION, preview=preview, mocks=mocks)


def _one(plan: Plan, type_: str) -> CapturedResource:
    found = plan.by_type(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def _routing(plan: Plan) -> dict[str, Any]:
    policy = _one(plan, ENDPOINT_T).inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    return dict(policy["trafficRoutingConfiguration"])


# ---------------------------------------------------------------------------- pure helpers


def test_image_uri_resolves_tags_and_digests_in_the_repository() -> None:
    assert image_uri("serving-1.4.2", REPO) == f"{REPO}:serving-1.4.2"
    digest = "sha256:" + "a" * 64
    assert image_uri(digest, REPO) == f"{REPO}@{digest}"
    full = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/other:1.0"
    assert image_uri(full, None) == full
    with pytest.raises(EndpointArgsError, match="repository_url"):
        image_uri("serving-1.4.2", None)


def test_s3_locations() -> None:
    assert s3_uri("models", "churn/model.tar.gz") == "s3://models/churn/model.tar.gz"
    assert s3_uri("models", "/churn/model.tar.gz") == "s3://models/churn/model.tar.gz"
    assert capture_destination("capture", "ep") == "s3://capture/ep/"
    assert scaling_resource_id("ep") == f"endpoint/ep/variant/{VARIANT_NAME}"


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        ("ml.m5.large", False),
        ("ml.c6i.xlarge", False),
        ("ml.inf2.xlarge", False),
        ("ml.c6gn.large", False),
        ("ml.m5d.large", True),
        ("ml.g4dn.xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.r7gd.medium", True),
        ("ml.g5.2xlarge", True),
        ("ml.trn1.32xlarge", True),
    ],
)
def test_local_storage_instance_types(instance_type: str, local: bool) -> None:
    assert has_local_storage(instance_type) is local


def test_traffic_steps_per_strategy() -> None:
    assert traffic_steps("all_at_once", 10) == 1
    assert traffic_steps("canary", 10) == 2
    assert traffic_steps("linear", 20) == 5
    assert traffic_steps("linear", 30) == 4  # 30, 60, 90, 100


@given(
    strategy=st.sampled_from(["all_at_once", "canary", "linear"]),
    percent=st.integers(10, 50),
    bake=st.integers(0, 3600),
)
def test_execution_timeout_stays_valid_and_covers_the_bakes(
    strategy: Any, percent: int, bake: int
) -> None:
    timeout = execution_timeout(strategy, percent, bake)
    assert 600 <= timeout <= 28_800  # SageMaker's accepted range
    waits = traffic_steps(strategy, percent) * bake + TERMINATION_WAIT_SECONDS
    if waits < 28_800:
        assert timeout > waits  # "larger than the total waiting time" (API reference)
    assert deployment_seconds(strategy, percent, bake) >= waits


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_package_arn": PACKAGE}, "exactly one of model_package_arn or image"),
        (
            {"image": None, "model_data_key": None, "repository_url": None},
            "exactly one of model_package_arn or image",
        ),
        ({"model_data_key": None}, "image and model_data_key go together"),
        ({"repository_url": None}, "also pass repository_url"),
        ({"subnet_ids": ["subnet-1"]}, "subnet_ids and security_group_ids go together"),
        ({"min_instances": 3, "max_instances": 2}, "min_instances"),
        ({"data_capture_percent": 101}, "data_capture_percent"),
        ({"deployment_strategy": "rolling"}, "deployment_strategy"),
        ({"canary_percent": 60}, "canary_percent 60 is outside 1..50"),
        ({"deployment_strategy": "linear", "canary_percent": 5}, "below SageMaker's minimum"),
        ({"bake_seconds": 4000}, "bake_seconds"),
        ({"rollback_alarm_names": [f"a{i}" for i in range(11)]}, "at most 10"),
    ],
)
def test_inconsistent_args_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(EndpointArgsError, match=message):
        validate_args(_args(**overrides))


def test_full_image_uri_needs_no_repository() -> None:
    validate_args(_args(image=f"{REPO}:serving-2", repository_url=None))


def test_invalid_args_fail_the_program() -> None:
    with pytest.raises(Exception, match="exactly one of model_package_arn or image"):
        _run(_args(model_package_arn=PACKAGE))


# ---------------------------------------------------------------------------- the graph


@MODES
def test_children_are_parented_tagged_and_complete(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    component = _one(plan, COMPONENT_T)
    children = plan.children(component)
    assert {r.type for r in children} == {MODEL_T, CONFIG_T, ENDPOINT_T, TARGET_T, POLICY_T}
    assert {r.name for r in children} == {
        "serving-model",
        "serving-config",
        "serving-endpoint",
        "serving-scaling-target",
        "serving-scaling-policy",
    }
    for resource in children:
        if resource.type == POLICY_T:  # scaling policies take no tags
            continue
        tags = resource.inputs["tags"]
        assert {k: tags[k] for k in TAGS} == TAGS, resource.name
        assert tags["Name"].startswith(PREFIX), resource.name


@MODES
def test_model_is_isolated_and_serves_the_image_with_its_data(preview: bool) -> None:
    model = _one(_run(_args(), preview=preview), MODEL_T).inputs
    assert model["enableNetworkIsolation"] is True
    assert model["executionRoleArn"] == ROLE
    assert model["primaryContainer"] == {
        "image": f"{REPO}:serving-1.4.2",
        "modelDataUrl": "s3://models-bucket/churn/v3/model.tar.gz",
    }
    # `<prefix>-model-<hash>`: inside the deploy role's scope, and new for a new model
    assert model["name"].startswith(f"{PREFIX}-model-")


@MODES
def test_model_from_a_package(preview: bool) -> None:
    args = _args(model_package_arn=PACKAGE, image=None, model_data_key=None, repository_url=None)
    model = _one(_run(args, preview=preview), MODEL_T).inputs
    assert model["primaryContainer"] == {"modelPackageName": PACKAGE}
    assert model["enableNetworkIsolation"] is True


@MODES
def test_vpc_config_follows_the_subnets(preview: bool) -> None:
    with_vpc = _args(subnet_ids=["subnet-a", "subnet-b"], security_group_ids=["sg-1"])
    model = _one(_run(with_vpc, preview=preview), MODEL_T).inputs
    assert model["vpcConfig"] == {"subnets": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-1"]}
    assert model["enableNetworkIsolation"] is True

    without = _one(_run(_args(), preview=preview), MODEL_T).inputs
    assert "vpcConfig" not in without
    assert without["enableNetworkIsolation"] is True


@MODES
def test_config_is_auto_named_encrypted_and_serves_the_model(preview: bool) -> None:
    plan = _run(
        _args(min_instances=2, max_instances=4, instance_type="ml.c5.xlarge"), preview=preview
    )
    config, model = _one(plan, CONFIG_T), _one(plan, MODEL_T)
    # a prefix, not a name: the provider makes each new configuration's name unique
    assert "name" not in config.inputs
    assert config.inputs["namePrefix"] == f"{PREFIX}-config-"
    assert config.inputs["kmsKeyArn"] == KEY
    (variant,) = config.inputs["productionVariants"]
    assert variant["variantName"] == VARIANT_NAME
    assert variant["initialInstanceCount"] == 2
    assert variant["instanceType"] == "ml.c5.xlarge"
    assert config.property_dependencies["productionVariants"] == (model.urn,)
    assert variant["modelName"] == model.inputs["name"]  # known even in preview


def test_local_storage_instances_get_no_volume_key() -> None:
    config = _one(_run(_args(instance_type="ml.g5.xlarge")), CONFIG_T).inputs
    assert "kmsKeyArn" not in config
    assert config["dataCaptureConfig"]["kmsKeyId"] == KEY  # capture stays encrypted


@MODES
def test_data_capture_on(preview: bool) -> None:
    capture = _one(_run(_args(data_capture_percent=20), preview=preview), CONFIG_T).inputs[
        "dataCaptureConfig"
    ]
    assert capture["enableCapture"] is True
    assert capture["initialSamplingPercentage"] == 20
    assert capture["destinationS3Uri"] == f"s3://capture-bucket/{endpoint_name(PREFIX)}/"
    assert capture["kmsKeyId"] == KEY
    assert {o["captureMode"] for o in capture["captureOptions"]} == {"Input", "Output"}
    assert capture["captureContentTypeHeader"] == {
        "csvContentTypes": ["text/csv"],
        "jsonContentTypes": ["application/json"],
    }


@MODES
def test_data_capture_off(preview: bool) -> None:
    capture = _one(_run(_args(data_capture_percent=0), preview=preview), CONFIG_T).inputs[
        "dataCaptureConfig"
    ]
    assert capture["enableCapture"] is False
    assert capture["initialSamplingPercentage"] == 0


@MODES
def test_endpoint_keeps_its_name_and_follows_the_new_config(preview: bool) -> None:
    plan = _run(_args(), preview=preview)
    endpoint, config = _one(plan, ENDPOINT_T), _one(plan, CONFIG_T)
    assert endpoint.inputs["name"] == endpoint_name(PREFIX)
    assert endpoint.property_dependencies["endpointConfigName"] == (config.urn,)
    expected = UNKNOWN if preview else config.outputs["name"]
    assert endpoint.inputs["endpointConfigName"] == expected


@pytest.mark.parametrize(
    "change",
    [
        {"image": "serving-1.5.0"},
        {"model_data_key": "churn/v4/model.tar.gz"},
    ],
    ids=["image-tag", "model-data"],
)
def test_a_new_image_or_model_data_replaces_model_and_config_not_the_endpoint(
    change: dict[str, Any],
) -> None:
    before = _run(_args(), mocks=FreshNameMocks(region=REGION))
    after = _run(_args(**change), mocks=FreshNameMocks(region=REGION))
    _assert_promotion(before, after)


def test_a_new_package_version_replaces_model_and_config_not_the_endpoint() -> None:
    package = {"image": None, "model_data_key": None, "repository_url": None}
    before = _run(_args(model_package_arn=PACKAGE, **package), mocks=FreshNameMocks(region=REGION))
    newer = PACKAGE.replace("/3", "/4")
    after = _run(_args(model_package_arn=newer, **package), mocks=FreshNameMocks(region=REGION))
    _assert_promotion(before, after)


def _assert_promotion(before: Plan, after: Plan) -> None:
    old_model, new_model = _one(before, MODEL_T), _one(after, MODEL_T)
    assert old_model.inputs["primaryContainer"] != new_model.inputs["primaryContainer"]
    assert old_model.outputs["name"] != new_model.outputs["name"]
    old_config, new_config = _one(before, CONFIG_T), _one(after, CONFIG_T)
    old_variant = old_config.inputs["productionVariants"][0]
    new_variant = new_config.inputs["productionVariants"][0]
    assert old_variant["modelName"] != new_variant["modelName"]
    assert old_variant["variantName"] == new_variant["variantName"]  # blue/green needs it
    old_endpoint, new_endpoint = _one(before, ENDPOINT_T), _one(after, ENDPOINT_T)
    assert old_endpoint.inputs["name"] == new_endpoint.inputs["name"] == endpoint_name(PREFIX)
    assert old_endpoint.inputs["endpointConfigName"] != new_endpoint.inputs["endpointConfigName"]
    assert new_endpoint.inputs["endpointConfigName"] == new_config.outputs["name"]


@MODES
def test_canary_deployment(preview: bool) -> None:
    plan = _run(
        _args(deployment_strategy="canary", canary_percent=15, bake_seconds=300), preview=preview
    )
    routing = _routing(plan)
    assert routing["type"] == "CANARY"
    assert routing["canarySize"] == {"type": "CAPACITY_PERCENT", "value": 15}
    assert "linearStepSize" not in routing
    assert routing["waitIntervalInSeconds"] == 300


@MODES
def test_linear_deployment(preview: bool) -> None:
    plan = _run(
        _args(deployment_strategy="linear", canary_percent=25, bake_seconds=120), preview=preview
    )
    routing = _routing(plan)
    assert routing["type"] == "LINEAR"
    assert routing["linearStepSize"] == {"type": "CAPACITY_PERCENT", "value": 25}
    assert "canarySize" not in routing
    assert routing["waitIntervalInSeconds"] == 120


@MODES
def test_all_at_once_deployment(preview: bool) -> None:
    plan = _run(_args(deployment_strategy="all_at_once", bake_seconds=60), preview=preview)
    routing = _routing(plan)
    assert routing["type"] == "ALL_AT_ONCE"
    assert "canarySize" not in routing and "linearStepSize" not in routing
    assert routing["waitIntervalInSeconds"] == 60


@MODES
def test_blue_green_timeouts_and_rollback_alarms(preview: bool) -> None:
    plan = _run(
        _args(deployment_strategy="linear", canary_percent=20, bake_seconds=300), preview=preview
    )
    config = _one(plan, ENDPOINT_T).inputs["deploymentConfig"]
    policy = config["blueGreenUpdatePolicy"]
    assert policy["terminationWaitInSeconds"] == TERMINATION_WAIT_SECONDS
    assert policy["maximumExecutionTimeoutInSeconds"] == execution_timeout("linear", 20, 300)
    assert policy["maximumExecutionTimeoutInSeconds"] > 5 * 300
    alarms = config["autoRollbackConfiguration"]["alarms"]
    assert [a["alarmName"] for a in alarms] == list(ROLLBACK)


def test_no_rollback_alarms_means_no_rollback_block() -> None:
    config = _one(_run(_args(rollback_alarm_names=())), ENDPOINT_T).inputs["deploymentConfig"]
    assert "autoRollbackConfiguration" not in config
    assert "blueGreenUpdatePolicy" in config


@MODES
def test_autoscaling_tracks_invocations_per_instance(preview: bool) -> None:
    args = _args(min_instances=2, max_instances=6, target_invocations=250)
    plan = _run(args, preview=preview)
    endpoint, target, policy = _one(plan, ENDPOINT_T), _one(plan, TARGET_T), _one(plan, POLICY_T)
    assert target.inputs["serviceNamespace"] == "sagemaker"
    assert target.inputs["resourceId"] == scaling_resource_id(endpoint_name(PREFIX))
    assert target.inputs["scalableDimension"] == SCALABLE_DIMENSION
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 6)
    assert target.property_dependencies["resourceId"] == (endpoint.urn,)

    assert policy.inputs["policyType"] == "TargetTrackingScaling"
    assert policy.property_dependencies["resourceId"] == (target.urn,)
    tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == 250
    assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": SCALING_METRIC}
    assert tracking["scaleInCooldown"] == SCALE_IN_COOLDOWN_SECONDS
    assert tracking["scaleOutCooldown"] == SCALE_OUT_COOLDOWN_SECONDS
    assert SCALE_OUT_COOLDOWN_SECONDS < SCALE_IN_COOLDOWN_SECONDS


@MODES
def test_fixed_size_endpoint_registers_no_scaling(preview: bool) -> None:
    plan = _run(_args(min_instances=2, max_instances=2), preview=preview)
    assert plan.by_type(TARGET_T) == [] and plan.by_type(POLICY_T) == []
    assert len(plan.by_type(ENDPOINT_T)) == 1


def test_outputs() -> None:
    plan = _run(_args())
    endpoint, config, model = _one(plan, ENDPOINT_T), _one(plan, CONFIG_T), _one(plan, MODEL_T)
    assert plan.outputs == {
        "endpoint_name": endpoint_name(PREFIX),
        "endpoint_arn": endpoint.outputs["arn"],
        "endpoint_config_name": config.outputs["name"],
        "model_name": model.outputs["name"],
        "capture_path": f"s3://capture-bucket/{endpoint_name(PREFIX)}/",
    }


def test_outputs_in_preview() -> None:
    outputs = _run(_args(), preview=True).outputs
    assert outputs["endpoint_name"] == endpoint_name(PREFIX)  # known before deployment
    assert outputs["capture_path"] == f"s3://capture-bucket/{endpoint_name(PREFIX)}/"
    assert outputs["endpoint_arn"] == UNKNOWN
    assert outputs["endpoint_config_name"] == UNKNOWN
    # known in preview: the name hashes what the model runs, known from the stack's inputs
    assert outputs["model_name"].startswith(f"{PREFIX}-model-")


def test_slow_deployments_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    slow = _args(deployment_strategy="linear", canary_percent=10, bake_seconds=600)
    assert deployment_seconds("linear", 10, 600) > PROVIDER_WAIT_SECONDS
    with caplog.at_level(logging.WARNING):
        _run(slow)
    assert any("60-minute wait" in r.getMessage() for r in caplog.records)

    caplog.clear()
    quick = _args(deployment_strategy="canary", canary_percent=10, bake_seconds=600)
    assert deployment_seconds("canary", 10, 600) <= PROVIDER_WAIT_SECONDS
    with caplog.at_level(logging.WARNING):
        _run(quick)
    assert not any("60-minute wait" in r.getMessage() for r in caplog.records)


def test_a_new_model_gets_a_new_name_and_the_same_model_the_same_one() -> None:
    first = _run(_args()).get("serving-model").inputs["name"]
    again = _run(_args()).get("serving-model").inputs["name"]
    other = _run(_args(model_data_key="churn/v4/model.tar.gz")).get("serving-model").inputs["name"]
    assert first == again and first != other
    assert all(len(n) <= 63 and n.startswith(f"{PREFIX}-model-") for n in (first, other))
