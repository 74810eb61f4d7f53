"""The composed stack: every shipped stack plans, exports exactly StackOutputs, and the
environments differ as their stack files say."""

from __future__ import annotations

import subprocess
import sys
from functools import cache

import pytest

from infra.outputs import StackOutputs
from infra.plan import UNKNOWN, Plan, plan_stack

STACKS = ["local", "dev", "staging", "prod"]


@cache
def planned(stack: str, preview: bool = False) -> Plan:
    return plan_stack(stack, preview=preview)


def types(plan: Plan) -> set[str]:
    return {r.type for r in plan.resources}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("preview", [False, True])
def test_exports_exactly_the_stack_outputs(stack: str, preview: bool) -> None:
    plan = planned(stack, preview)
    assert list(plan.outputs) == StackOutputs.keys()
    if not preview:
        outputs = StackOutputs.from_exports(dict(plan.outputs))
        assert outputs.stack == stack and outputs.account_id.isdigit()
        assert outputs.training_output_path.startswith(f"s3://{outputs.models_bucket}/")
        assert outputs.endpoint_capture_path.startswith(f"s3://{outputs.capture_bucket}/")


@pytest.mark.parametrize("stack", STACKS)
def test_every_component_hangs_off_the_stack_and_children_off_components(stack: str) -> None:
    plan = planned(stack)
    components = {r.urn: r for r in plan.components()}
    assert {c.type.split(":")[1] for c in components.values()} >= {
        "iam",
        "kms",
        "storage",
        "registry",
        "training",
        "monitoring",
    }
    for r in plan.resources:
        if r.custom:
            assert r.parent in components, f"{r.type} {r.name} is not inside a component"


def test_dev_is_the_cheap_variant() -> None:
    dev = planned("dev")
    assert not any(t.startswith("aws:ec2/") for t in types(dev)), "dev has no VPC"
    assert "aws:sagemaker/endpoint:Endpoint" not in types(dev), "dev ships without a model"
    outputs = StackOutputs.from_exports(dict(dev.outputs))
    assert outputs.training_subnet_ids == [] and not outputs.endpoint_deployed


def test_staging_shows_the_serving_group() -> None:
    staging = planned("staging")
    for t in (
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "aws:sagemaker/endpoint:Endpoint",
        "aws:appautoscaling/target:Target",
        "aws:appautoscaling/policy:Policy",
    ):
        assert len(staging.by_type(t)) == 1, t
    endpoint = staging.by_type("aws:sagemaker/endpoint:Endpoint")[0]
    config = staging.by_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0]
    assert config.inputs["namePrefix"].startswith("mlops-platform-staging-")
    assert endpoint.property_dependencies["endpointConfigName"] == (config.urn,)
    alarms = {r.urn for r in staging.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    component = staging.get("endpoint")
    assert alarms <= set(component.dependencies), "the endpoint waits for its alarms"


def test_prod_is_isolated_across_three_zones_with_object_lock() -> None:
    prod = planned("prod")
    subnets = prod.by_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 3
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 3
    assert not prod.by_type("aws:ec2/internetGateway:InternetGateway")
    assert not prod.by_type("aws:ec2/natGateway:NatGateway")
    assert prod.by_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert "aws:sagemaker/endpoint:Endpoint" not in types(prod), "prod gets its model by deploy"


def test_sagemaker_names_fall_inside_the_deploy_role_scope() -> None:
    """The deploy role manages `<prefix>-*` SageMaker resources only: every name the program
    gives (or lets the provider derive) must start with the prefix."""
    staging = planned("staging")
    for resource in staging.resources:
        if resource.type.startswith("aws:sagemaker/"):
            name = (
                resource.inputs.get("name")
                or resource.inputs.get("namePrefix")
                or (resource.inputs.get("modelPackageGroupName"))
            )
            assert str(name).startswith("mlops-platform-staging-"), (resource.type, name)


def test_keys_wait_for_the_roles_they_name() -> None:
    plan = planned("prod")
    roles = {r.urn for r in plan.by_type("aws:iam/role:Role")}
    for key in plan.by_type("aws:kms/key:Key"):
        assert roles & set(key.dependencies), key.name


def test_preview_leaves_computed_names_unknown_but_fixed_names_known() -> None:
    plan = planned("staging", True)
    outputs = dict(plan.outputs)
    assert outputs["endpointName"] == "mlops-platform-staging-endpoint"
    assert outputs["deployRoleArn"] == UNKNOWN


def test_no_resource_is_created_at_import_time() -> None:
    code = (
        "import pulumi, pulumi.runtime\n"
        "from infra.plan import RealisticMocks, _capturing_monitor\n"
        "mocks = RealisticMocks(region='eu-west-1')\n"
        "monitor = _capturing_monitor(mocks)\n"
        "pulumi.runtime.set_mocks(mocks, project='p', stack='s', monitor=monitor)\n"
        "import infra.stack, infra.storage, infra.kms, infra.iam, infra.permissions\n"
        "import infra.network, infra.registry, infra.training, infra.endpoint\n"
        "import infra.monitoring, infra.retraining\n"
        "assert monitor.captured == [], monitor.captured\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
