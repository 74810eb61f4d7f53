"""`TrainingCompute`: the resolved training configuration `ml/` submits jobs with.

It creates no compute: training jobs are submitted by `ml/` at run time. What it does is
fix, in one place, every setting a job must use to satisfy the policies by construction
(role, subnets, security groups, KMS key, output and checkpoint paths, instance
allowlist and limits, network isolation, inter-container encryption), and export them.

Log group: SageMaker writes training logs to the account-wide `/aws/sagemaker/TrainingJobs`
group. A stack must not own that group: it is shared by every stack and job in the
account and region, creating it fails once any job has run (it then already exists), and
destroying the stack would delete other stacks' logs. The stack therefore owns
`/mlops/<prefix>/training` (retention and KMS from config), where the local and
Kubernetes runners (and `ml/`'s own job summaries) write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import get_args

import pulumi
import pulumi_aws as aws

from infra.config import TrainingRunner
from infra.naming import physical_name
from infra.network import check_retention
from infra.tags import merge_tags

# SageMaker's ceiling for MaxRuntimeInSeconds and MaxWaitTimeInSeconds: 28 days.
MAX_TRAINING_SECONDS = 28 * 24 * 3600
# Managed spot: how long a job may wait for capacity beyond its runtime.
SPOT_WAIT_MARGIN_SECONDS = 3600
RUNNERS: tuple[str, ...] = get_args(TrainingRunner)


def max_wait_seconds(max_runtime_seconds: int, spot: bool) -> int:
    """MaxWaitTimeInSeconds of a managed spot job: the runtime plus an hour of waiting for
    capacity, capped at SageMaker's 28 days (and never below the runtime, which SageMaker
    requires). 0 when the job is not on spot (the field must then be omitted)."""
    if not spot:
        return 0
    if not 1 <= max_runtime_seconds <= MAX_TRAINING_SECONDS:
        raise ValueError(
            f"max runtime {max_runtime_seconds}s is outside 1..{MAX_TRAINING_SECONDS}s "
            "(SageMaker's 28-day limit)"
        )
    return min(max_runtime_seconds + SPOT_WAIT_MARGIN_SECONDS, MAX_TRAINING_SECONDS)


def s3_prefix(bucket: str, prefix: str) -> str:
    """`s3://<bucket>/<prefix>/` with exactly one slash between parts and at the end."""
    return f"s3://{bucket.strip('/')}/{prefix.strip('/')}/"


def _string_list(value: pulumi.Input[Sequence[pulumi.Input[str]]]) -> pulumi.Output[list[str]]:
    """A list of ids given as a list (of strings or Outputs) or as an Output of a list."""
    # from_input resolves nested Outputs, so the items are plain strings here.
    return pulumi.Output.from_input(value).apply(lambda items: [str(i) for i in items])


def training_log_group_name(prefix: str) -> str:
    return f"/mlops/{prefix}/training"


@dataclass(frozen=True)
class TrainingComputeArgs:
    prefix: str
    """Name prefix of the stack (cfg.name_prefix)."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) for the log group."""
    role_arn: pulumi.Input[str]
    """SageMaker execution role jobs run as (Roles.sagemaker_role_arn)."""
    models_bucket: pulumi.Input[str]
    """Name of the models bucket: training output and checkpoints go there."""
    kms_key_arn: pulumi.Input[str]
    """Key for output artifacts and training volumes (the data key)."""
    log_kms_key_arn: pulumi.Input[str]
    """Key encrypting the training log group (its policy must allow logs.<region>)."""
    runner: str = "sagemaker"
    """Where jobs run: local, sagemaker or kubernetes (cfg.training.runner)."""
    instance_types: Sequence[str] = ("ml.m5.large",)
    """Instance types jobs may use (cfg.training.instance_types)."""
    max_instances: int = 1
    """Most instances in one job (cfg.training.max_instances)."""
    max_runtime_seconds: int = 86_400
    """Hard stop of a job (cfg.training.max_runtime_seconds)."""
    spot: bool = False
    """Managed spot training (cfg.training.spot); checkpoints make it resumable."""
    log_retention_days: int = 90
    """Retention of the training log group (cfg.monitoring.log_retention_days)."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = ()
    """Network.subnet_ids; empty when the stack has no VPC."""
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = ()
    """[Network.training_security_group_id]; empty when the stack has no VPC."""
    network_isolation: bool = True
    """Containers get no network at all (data comes through SageMaker channels); False
    is an explicit opt-out, e.g. for jobs that download packages."""
    inter_container_encryption: bool = True
    """Encrypt traffic between instances of distributed jobs; False is an opt-out that
    trades security for speed."""


class TrainingCompute(pulumi.ComponentResource):
    """The training settings `ml/` must use, and the stack's training log group."""

    runner: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    subnet_ids: pulumi.Output[list[str]]
    security_group_ids: pulumi.Output[list[str]]
    kms_key_arn: pulumi.Output[str]
    output_path: pulumi.Output[str]
    checkpoint_path: pulumi.Output[str]
    instance_types: pulumi.Output[list[str]]
    max_instances: pulumi.Output[int]
    max_runtime_seconds: pulumi.Output[int]
    spot: pulumi.Output[bool]
    max_wait_seconds: pulumi.Output[int]
    network_isolation: pulumi.Output[bool]
    inter_container_encryption: pulumi.Output[bool]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: TrainingComputeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:training:TrainingCompute", name, None, opts)
        if args.runner not in RUNNERS:
            raise ValueError(f"training runner {args.runner!r} is not one of {RUNNERS}")
        if not args.instance_types:
            raise ValueError("training instance types: the allowlist is empty")
        if args.max_instances < 1:
            raise ValueError(f"training max instances {args.max_instances} is below 1")
        wait = max_wait_seconds(args.max_runtime_seconds, args.spot)
        retention = check_retention(args.log_retention_days, "training log retention")

        group_name = training_log_group_name(args.prefix)
        group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=group_name,
            retention_in_days=retention,  # logs can hold data samples: do not keep forever
            kms_key_id=args.log_kms_key_arn,  # customer-managed key: we control who reads
            tags=merge_tags(args.tags, None, name=physical_name(args.prefix, "training-logs")),
            opts=pulumi.ResourceOptions(parent=self),
        )

        bucket = pulumi.Output.from_input(args.models_bucket)
        self.runner = pulumi.Output.from_input(args.runner)
        self.role_arn = pulumi.Output.from_input(args.role_arn)
        self.subnet_ids = _string_list(args.subnet_ids)
        self.security_group_ids = _string_list(args.security_group_ids)
        self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)
        self.output_path = bucket.apply(lambda b: s3_prefix(b, "training"))
        self.checkpoint_path = bucket.apply(lambda b: s3_prefix(b, "checkpoints"))
        self.instance_types = pulumi.Output.from_input(list(args.instance_types))
        self.max_instances = pulumi.Output.from_input(args.max_instances)
        self.max_runtime_seconds = pulumi.Output.from_input(args.max_runtime_seconds)
        self.spot = pulumi.Output.from_input(args.spot)
        self.max_wait_seconds = pulumi.Output.from_input(wait)
        self.network_isolation = pulumi.Output.from_input(args.network_isolation)
        self.inter_container_encryption = pulumi.Output.from_input(args.inter_container_encryption)
        self.log_group_name = group.name
        self.register_outputs(
            {
                "runner": self.runner,
                "role_arn": self.role_arn,
                "subnet_ids": self.subnet_ids,
                "security_group_ids": self.security_group_ids,
                "kms_key_arn": self.kms_key_arn,
                "output_path": self.output_path,
                "checkpoint_path": self.checkpoint_path,
                "instance_types": self.instance_types,
                "max_instances": self.max_instances,
                "max_runtime_seconds": self.max_runtime_seconds,
                "spot": self.spot,
                "max_wait_seconds": self.max_wait_seconds,
                "network_isolation": self.network_isolation,
                "inter_container_encryption": self.inter_container_encryption,
                "log_group_name": self.log_group_name,
            }
        )
