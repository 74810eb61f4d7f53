"""The stack's real-time SageMaker endpoint: model, endpoint config, endpoint, autoscaling.

Promotion without downtime
    The endpoint has a deterministic name (`infra.naming.endpoint_name`) and is never
    replaced. The model and the endpoint configuration are auto-named: a new model (image
    tag, model data or package ARN) replaces both (create-before-delete, so the new ones
    exist before the old ones go), and the endpoint, which reads `endpoint_config_name`
    from the NEW configuration, is *updated in place* with SageMaker's blue/green
    deployment: traffic shifts all at once, as a canary or linearly, each shift followed
    by a bake period during which the rollback alarms (p99 latency, 5xx errors, created by
    `infra.monitoring` under deterministic names) can roll the update back.

Known limits (AWS and the provider, not this code)
    - The provider waits at most 60 minutes for `InService`; a slower blue/green update
      keeps running in SageMaker but fails `pulumi up`. `deployment_seconds` estimates the
      duration and the component warns when it may not fit.
    - Application Auto Scaling refuses an endpoint update that changes the instance type
      of a scaled variant. To change `instance_type`: deploy once with max_instances equal
      to min_instances (no scaling is registered then), change the type, restore the max.
    - The provider does not expose UpdateEndpoint's RetainAllVariantProperties: a
      promotion starts the new fleet at `min_instances`; autoscaling then scales it out.
    - When SageMaker rolls an update back, the endpoint reports RollingBack, which the
      provider's wait does not expect: `pulumi up` fails and the endpoint keeps serving the
      previous config. Run `pulumi refresh`, then fix or revert the model, before the next up.
    - SageMaker writes captured records under
      `<capture_path><endpoint name>/<variant>/yyyy/mm/dd/hh/`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pulumi_aws.appautoscaling import (
    PolicyTargetTrackingScalingPolicyConfigurationArgs as TargetTrackingArgs,
)
from pulumi_aws.appautoscaling import (
    PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs as MetricArgs,
)
from pulumi_aws.sagemaker import (
    EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs as ContentTypesArgs,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs as RoutingArgs,
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs as CanaryArgs,  # noqa: E501
)
from pulumi_aws.sagemaker import (
    EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs as LinearArgs,  # noqa: E501
)

from infra.naming import endpoint_name, physical_name
from infra.tags import merge_tags

DeploymentStrategy = Literal["all_at_once", "canary", "linear"]

VARIANT_NAME = "primary"  # blue/green requires the same variant name in old and new configs
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"
# Scale out fast (a minute) when traffic rises; scale in slowly (5 minutes) so that a short
# lull does not remove capacity the next burst needs.
SCALE_OUT_COOLDOWN_SECONDS = 60
SCALE_IN_COOLDOWN_SECONDS = 300
# No extra wait before the old fleet is terminated: the final bake (wait interval after the
# last traffic shift) already watches the rollback alarms, and every second here doubles the
# fleet's cost and counts against the provider's 60-minute wait.
TERMINATION_WAIT_SECONDS = 0
# Time for the new (green) fleet to launch, download the model and pass health checks.
PROVISIONING_SECONDS = 900
PROVIDER_WAIT_SECONDS = 3600  # terraform-provider-aws waits this long for InService
MAX_ROLLBACK_ALARMS = 10  # AutoRollbackConfig.Alarms holds 1..10 alarms
CAPTURE_CONTENT_TYPES = {"csv": ["text/csv"], "json": ["application/json"]}

_TRAFFIC_TYPES: dict[str, str] = {
    "all_at_once": "ALL_AT_ONCE",
    "canary": "CANARY",
    "linear": "LINEAR",
}
# Families whose instances have local NVMe storage: AWS encrypts it in hardware and rejects
# a KmsKeyId on the endpoint config for them. Families with a "d" qualifier (m5d, g4dn,
# p4d, r7gd...) follow the naming rule; these do not. Extend when AWS adds families.
_LOCAL_STORAGE_FAMILIES = frozenset(
    {"dl1", "g5", "g6", "g6e", "g7", "g7e", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
)


class EndpointArgsError(ValueError):
    """Inconsistent endpoint arguments; the message says which and how to fix it."""


@dataclass(frozen=True)
class ServingEndpointArgs:
    prefix: str
    """Start of physical names (cfg.name_prefix)."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) merged into every taggable resource."""
    role_arn: pulumi.Input[str]
    """SageMaker execution role: pulls the image and model data, writes capture and logs."""
    kms_key_arn: pulumi.Input[str]
    """Data key: encrypts the instances' storage volumes and captured data."""
    capture_bucket: pulumi.Input[str]
    """Name of the bucket that receives data capture records."""
    models_bucket: pulumi.Input[str]
    """Name of the bucket that holds model artifacts (for model_data_key)."""
    instance_type: str = "ml.m5.large"
    """Instance type of the serving variant."""
    min_instances: int = 1
    """Initial and minimum instance count."""
    max_instances: int = 2
    """Most instances autoscaling may run (equal to min_instances: no autoscaling)."""
    target_invocations: int = 100
    """Autoscaling target: invocations per instance per minute."""
    data_capture_percent: int = 100
    """Percent of requests captured for monitoring (0 turns capture off)."""
    deployment_strategy: DeploymentStrategy = "canary"
    """Blue/green traffic shifting: all_at_once, canary or linear."""
    canary_percent: int = 10
    """Capacity share of the canary (1-50) or of each linear step (10-50)."""
    bake_seconds: int = 600
    """Wait after each traffic shift while the rollback alarms are watched (0-3600)."""
    rollback_alarm_names: Sequence[str] = ()
    """CloudWatch alarms that roll a deployment back (names from monitoring, max 10)."""
    model_package_arn: str | None = None
    """Approved model package to serve (instead of image + model_data_key)."""
    image: str | None = None
    """Serving image: a tag in repository_url, sha256:<digest>, or a full ECR image URI."""
    repository_url: pulumi.Input[str] | None = None
    """The stack's ECR repository URL, needed when image is a tag or digest."""
    model_data_key: str | None = None
    """Key of model.tar.gz in the models bucket (with image)."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Private subnets for the model containers (None: no VPC)."""
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Security groups for the model containers (required with subnet_ids)."""


# ---------------------------------------------------------------------------- pure helpers


def validate_args(args: ServingEndpointArgs) -> None:
    """Raise `EndpointArgsError` naming the first inconsistency and its fix."""
    problems = [
        (
            bool(args.model_package_arn) == bool(args.image),
            "set exactly one of model_package_arn or image (with model_data_key)",
        ),
        (
            bool(args.image) != bool(args.model_data_key),
            "image and model_data_key go together: set both",
        ),
        (
            bool(args.image) and "/" not in (args.image or "") and args.repository_url is None,
            f"image {args.image!r} is a tag or digest: also pass repository_url",
        ),
        (
            (args.subnet_ids is None) != (args.security_group_ids is None),
            "subnet_ids and security_group_ids go together: pass both or neither",
        ),
        (
            not 1 <= args.min_instances <= args.max_instances,
            f"need 1 <= min_instances ({args.min_instances}) <= max_instances "
            f"({args.max_instances})",
        ),
        (args.target_invocations < 1, "target_invocations must be at least 1"),
        (
            not 0 <= args.data_capture_percent <= 100,
            f"data_capture_percent {args.data_capture_percent} is outside 0..100",
        ),
        (
            args.deployment_strategy not in _TRAFFIC_TYPES,
            f"deployment_strategy {args.deployment_strategy!r} is not one of "
            f"{', '.join(_TRAFFIC_TYPES)}",
        ),
        (
            not 1 <= args.canary_percent <= 50,
            f"canary_percent {args.canary_percent} is outside 1..50 (SageMaker shifts at "
            "most half the capacity in the first step)",
        ),
        (
            args.deployment_strategy == "linear" and args.canary_percent < 10,
            f"a linear step of {args.canary_percent}% is below SageMaker's minimum of 10%: "
            "raise canary_percent or use the canary strategy",
        ),
        (
            not 0 <= args.bake_seconds <= 3600,
            f"bake_seconds {args.bake_seconds} is outside SageMaker's 0..3600",
        ),
        (
            len(args.rollback_alarm_names) > MAX_ROLLBACK_ALARMS,
            f"{len(args.rollback_alarm_names)} rollback alarms; SageMaker accepts at most "
            f"{MAX_ROLLBACK_ALARMS}",
        ),
    ]
    for failed, fix in problems:
        if failed:
            raise EndpointArgsError(f"ServingEndpoint: {fix}")


def image_uri(image: str, repository_url: str | None) -> str:
    """A full ECR URI stays as is; a tag or `sha256:` digest is resolved in the repository."""
    if "/" in image:
        return image
    if not repository_url:
        raise EndpointArgsError(f"ServingEndpoint: image {image!r} needs a repository_url")
    separator = "@" if image.startswith("sha256:") else ":"
    return f"{repository_url}{separator}{image}"


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key.lstrip('/')}"


def capture_destination(capture_bucket: str, name: str) -> str:
    """Where the endpoint's data capture goes: one prefix per endpoint."""
    return s3_uri(capture_bucket, f"{name}/")


def has_local_storage(instance_type: str) -> bool:
    """Whether the instance type has local NVMe storage (then no KmsKeyId is allowed)."""
    parts = instance_type.split(".")
    family = parts[1] if len(parts) == 3 else instance_type
    if family in _LOCAL_STORAGE_FAMILIES:
        return True
    # m5d, c6gd, g4dn, p3dn, p4d, p4de, r7gd, c6id: a "d" among the qualifiers after the
    # generation digit.
    return bool(re.fullmatch(r"[a-z]+\d+[a-z]*d[a-z]*", family.split("-")[0]))


def traffic_steps(strategy: DeploymentStrategy, percent: int) -> int:
    """Bake periods in one blue/green update (each shift is followed by one)."""
    if strategy == "all_at_once":
        return 1
    if strategy == "canary":
        return 2  # canary, then the rest
    return math.ceil(100 / percent)


def deployment_seconds(strategy: DeploymentStrategy, percent: int, bake_seconds: int) -> int:
    """Expected duration of a blue/green update: provisioning, bakes, termination wait."""
    return (
        PROVISIONING_SECONDS
        + traffic_steps(strategy, percent) * bake_seconds
        + TERMINATION_WAIT_SECONDS
    )


def execution_timeout(strategy: DeploymentStrategy, percent: int, bake_seconds: int) -> int:
    """MaximumExecutionTimeoutInSeconds: the expected duration with a provisioning margin,
    inside SageMaker's 600..28800 (SageMaker rolls back when it is exceeded)."""
    wanted = deployment_seconds(strategy, percent, bake_seconds) + PROVISIONING_SECONDS
    return max(600, min(28_800, wanted))


def traffic_routing(strategy: DeploymentStrategy, percent: int, bake_seconds: int) -> RoutingArgs:
    """How traffic moves to the new fleet; a percent of capacity per canary or linear step."""
    return RoutingArgs(
        type=_TRAFFIC_TYPES[strategy],
        wait_interval_in_seconds=bake_seconds,
        canary_size=(
            CanaryArgs(type="CAPACITY_PERCENT", value=percent) if strategy == "canary" else None
        ),
        linear_step_size=(
            LinearArgs(type="CAPACITY_PERCENT", value=percent) if strategy == "linear" else None
        ),
    )


def deployment_config(args: ServingEndpointArgs) -> aws.sagemaker.EndpointDeploymentConfigArgs:
    """Blue/green update policy, plus auto-rollback when alarms are given."""
    rollback = None
    if args.rollback_alarm_names:
        rollback = aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
            alarms=[
                aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(
                    alarm_name=alarm
                )
                for alarm in args.rollback_alarm_names
            ]
        )
    strategy, percent, bake = args.deployment_strategy, args.canary_percent, args.bake_seconds
    return aws.sagemaker.EndpointDeploymentConfigArgs(
        blue_green_update_policy=aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
            traffic_routing_configuration=traffic_routing(strategy, percent, bake),
            termination_wait_in_seconds=TERMINATION_WAIT_SECONDS,
            maximum_execution_timeout_in_seconds=execution_timeout(strategy, percent, bake),
        ),
        auto_rollback_configuration=rollback,
    )


def scaling_resource_id(name: str, variant: str = VARIANT_NAME) -> str:
    return f"endpoint/{name}/variant/{variant}"


def versioned_name(prefix: str, role: str, values: Sequence[Any]) -> str:
    """`<prefix>-<role>-<10 hex>`: stable for the same values, new when any changes."""
    digest = hashlib.sha256(json.dumps(list(values), sort_keys=True, default=str).encode())
    return physical_name(prefix, f"{role}-{digest.hexdigest()[:10]}")


# ---------------------------------------------------------------------------- component


class ServingEndpoint(pulumi.ComponentResource):
    """A SageMaker real-time endpoint promoted by blue/green updates, with autoscaling."""

    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    endpoint_config_name: pulumi.Output[str]
    model_name: pulumi.Output[str]
    capture_path: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServingEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:endpoint:ServingEndpoint", name, None, opts)
        validate_args(args)
        physical = endpoint_name(args.prefix)
        child = pulumi.ResourceOptions(parent=self)
        # Auto-named and replaced create-before-delete (the default, stated here because the
        # design depends on it): the new model and config exist before the endpoint moves
        # to them, and the old ones are deleted only after it has.
        replaceable = pulumi.ResourceOptions(parent=self, delete_before_replace=False)

        container = self._container(args)
        model = aws.sagemaker.Model(
            f"{name}-model",
            # Named `<prefix>-model-<hash of what it runs>`: the prefix keeps it inside what
            # the deploy role may manage, and a new model gets a new name, so it is created
            # while the endpoint still serves the old one (create-before-delete).
            name=pulumi.Output.all(
                args.role_arn,
                container.model_package_name,
                container.image,
                container.model_data_url,
                args.subnet_ids,
                args.security_group_ids,
            ).apply(lambda values: versioned_name(args.prefix, "model", values)),
            execution_role_arn=args.role_arn,
            primary_container=container,
            # The container gets no network access at all: it cannot exfiltrate requests or
            # fetch code at run time (SageMaker itself downloads the model data).
            enable_network_isolation=True,
            vpc_config=(
                aws.sagemaker.ModelVpcConfigArgs(
                    subnets=args.subnet_ids, security_group_ids=args.security_group_ids
                )
                if args.subnet_ids is not None and args.security_group_ids is not None
                else None
            ),
            tags=merge_tags(args.tags, None, name=physical_name(args.prefix, "model")),
            opts=replaceable,
        )

        capture_path = pulumi.Output.from_input(args.capture_bucket).apply(
            lambda bucket: capture_destination(bucket, physical)
        )
        config = aws.sagemaker.EndpointConfiguration(
            f"{name}-config",
            # A prefix, not a name: a new model means a new config, created while the
            # endpoint still uses the old one, so the two must not share a name; the prefix
            # keeps it inside what the deploy role may manage.
            name_prefix=f"{physical_name(args.prefix, 'config', max_length=40)}-",
            production_variants=[
                aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                    variant_name=VARIANT_NAME,
                    model_name=model.name,
                    initial_instance_count=args.min_instances,
                    instance_type=args.instance_type,
                )
            ],
            # Customer-managed key for the instances' storage volumes; instance types with
            # local NVMe storage are encrypted in hardware and AWS rejects a key for them.
            kms_key_arn=None if has_local_storage(args.instance_type) else args.kms_key_arn,
            data_capture_config=aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                enable_capture=args.data_capture_percent > 0,
                initial_sampling_percentage=args.data_capture_percent,
                destination_s3_uri=capture_path,
                # Captured requests are production data: encrypt with our key, not SSE-S3.
                kms_key_id=args.kms_key_arn,
                capture_options=[
                    aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(
                        capture_mode=mode
                    )
                    for mode in ("Input", "Output")
                ],
                # Record CSV and JSON payloads as text (not base64) so drift jobs read them.
                capture_content_type_header=ContentTypesArgs(
                    csv_content_types=CAPTURE_CONTENT_TYPES["csv"],
                    json_content_types=CAPTURE_CONTENT_TYPES["json"],
                ),
            ),
            tags=merge_tags(args.tags, None, name=physical_name(args.prefix, "endpoint-config")),
            opts=replaceable,
        )

        expected = deployment_seconds(
            args.deployment_strategy, args.canary_percent, args.bake_seconds
        )
        if expected > PROVIDER_WAIT_SECONDS:
            pulumi.log.warn(
                f"a {args.deployment_strategy} update with {args.bake_seconds}s bakes takes "
                f"about {expected // 60} minutes, longer than the provider's "
                f"{PROVIDER_WAIT_SECONDS // 60}-minute wait: `pulumi up` would fail while "
                "SageMaker finishes. Shorten endpointBakeSeconds or use fewer steps.",
                resource=self,
            )
        endpoint = aws.sagemaker.Endpoint(
            f"{name}-endpoint",
            name=physical,
            # Read from the new config's output: the endpoint depends on it and is updated
            # in place (blue/green) instead of being replaced when the model changes.
            endpoint_config_name=config.name,
            deployment_config=deployment_config(args),
            tags=merge_tags(args.tags, None, name=physical),
            opts=child,
        )

        if args.max_instances > args.min_instances:
            self._autoscaling(name, args, endpoint)

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.endpoint_config_name = config.name
        self.model_name = model.name
        self.capture_path = capture_path
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "endpoint_config_name": self.endpoint_config_name,
                "model_name": self.model_name,
                "capture_path": self.capture_path,
            }
        )

    @staticmethod
    def _container(args: ServingEndpointArgs) -> aws.sagemaker.ModelPrimaryContainerArgs:
        if args.model_package_arn:
            return aws.sagemaker.ModelPrimaryContainerArgs(
                model_package_name=args.model_package_arn
            )
        image, key = str(args.image), str(args.model_data_key)
        uri = pulumi.Output.from_input(args.repository_url).apply(lambda url: image_uri(image, url))
        data = pulumi.Output.from_input(args.models_bucket).apply(lambda b: s3_uri(b, key))
        return aws.sagemaker.ModelPrimaryContainerArgs(image=uri, model_data_url=data)

    def _autoscaling(
        self, name: str, args: ServingEndpointArgs, endpoint: aws.sagemaker.Endpoint
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{name}-scaling-target",
            service_namespace="sagemaker",
            # From the endpoint's output, so the variant is registered once it exists.
            resource_id=endpoint.name.apply(scaling_resource_id),
            scalable_dimension=SCALABLE_DIMENSION,
            min_capacity=args.min_instances,
            max_capacity=args.max_instances,
            tags=merge_tags(args.tags, None, name=physical_name(args.prefix, "endpoint-scaling")),
            opts=child,
        )
        aws.appautoscaling.Policy(
            f"{name}-scaling-policy",
            name=physical_name(args.prefix, "endpoint-invocations", max_length=255),
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration=TargetTrackingArgs(
                target_value=float(args.target_invocations),
                predefined_metric_specification=MetricArgs(predefined_metric_type=SCALING_METRIC),
                scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
            opts=child,
        )
