"""Stack configuration: one frozen, typed `StackConfig` per stack.

The same values arrive two ways and go through one parser:
- offline, from `Pulumi.yaml` (project defaults) and `stacks/Pulumi.<stack>.yaml`;
- under the engine, from `pulumi.runtime` config (strings; arrays as JSON).

Stack files use flat, Pulumi-native keys (`mlops-platform:endpointMinInstances`) because
Pulumi's project schema declares only string, integer, boolean and array types; the model
groups them (`cfg.endpoint.min_instances`). A flat key is its group name followed by the
field name in camelCase, so the mapping is mechanical and listed by `config_keys()`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel, to_pascal
from pydantic_core import PydanticCustomError

from infra.backend import PulumiBackend
from infra.naming import partition_for

PROJECT_NAMESPACE = "mlops-platform"
# Provider keys the model reads. Other `aws:` keys go to the provider untouched.
PROVIDER_KEYS = {"aws:region": "region", "aws:allowedAccountIds": "allowed_account_ids"}


class Environment(StrEnum):
    LOCAL = "local"
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


EnforcementLevel = Literal["advisory", "mandatory", "remediate", "disabled"]
TrainingRunner = Literal["local", "sagemaker", "kubernetes"]
DeploymentStrategy = Literal["all_at_once", "canary", "linear"]
DataClassification = Literal["public", "internal", "confidential", "restricted"]


def _bad(message: str, fix: str, key: str | None = None) -> PydanticCustomError:
    """A validation error carrying its own fix (and the key, for cross-field rules)."""
    ctx: dict[str, Any] = {"fix": fix}
    if key is not None:
        ctx["key"] = key
    return PydanticCustomError("mlops_config", message, ctx)


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------------- groups


class NetworkConfig(_Group):
    enabled: bool = Field(True, description="Create a VPC for training and endpoints.")
    cidr: str = Field(
        "10.40.0.0/16", description="VPC CIDR block, /16 to /24; each private subnet gets 1/8."
    )
    az_count: int = Field(2, ge=1, le=6, description="Availability zones to spread subnets over.")
    isolated: bool = Field(
        True, description="No internet path: AWS services only through VPC endpoints."
    )
    flow_log_retention_days: int = Field(365, description="Retention of VPC flow logs, in days.")

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _check_retention(value)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise _bad(
                f"not an IPv4 CIDR block ({exc})",
                "write a network address with a prefix, e.g. 10.40.0.0/16",
            ) from exc
        if not 16 <= net.prefixlen <= 24:
            raise _bad(
                f"prefix /{net.prefixlen} is outside /16../24 (AWS allows VPCs of /16 to /28, "
                "and each AZ needs room for a subnet)",
                "use a prefix between /16 and /24",
            )
        if not net.is_private:
            raise _bad(
                "is not a private (RFC 1918) range",
                "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
            )
        return str(net)


class StorageConfig(_Group):
    noncurrent_version_days: int = Field(
        90, ge=1, description="Days before noncurrent object versions expire."
    )
    abort_incomplete_upload_days: int = Field(
        7, ge=1, description="Days before incomplete multipart uploads are aborted."
    )
    capture_transition_days: int = Field(
        30, ge=0, description="Days before capture data moves to infrequent access (0: never)."
    )
    capture_expiration_days: int = Field(
        365, ge=1, description="Days before endpoint capture data expires."
    )
    access_log_expiration_days: int = Field(
        365, ge=1, description="Days before S3 access logs expire."
    )
    object_lock: bool = Field(
        False, description="Object lock (governance mode) on the models bucket for audit."
    )
    object_lock_days: int = Field(
        365, ge=1, description="Default retention of locked model artifacts, in days."
    )

    @field_validator("capture_transition_days")
    @classmethod
    def _transition(cls, value: int) -> int:
        if 0 < value < 30:
            raise _bad(
                "S3 refuses a transition to STANDARD_IA before objects are 30 days old",
                "use 0 (no transition) or 30 and above",
            )
        return value

    @model_validator(mode="after")
    def _capture_order(self) -> StorageConfig:
        if 0 < self.capture_expiration_days <= self.capture_transition_days:
            raise _bad(
                f"capture data would expire (day {self.capture_expiration_days}) before it "
                f"moves to infrequent access (day {self.capture_transition_days})",
                "set storageCaptureExpirationDays above storageCaptureTransitionDays",
                key="storageCaptureExpirationDays",
            )
        return self


class TrainingConfig(_Group):
    runner: TrainingRunner = Field(
        "sagemaker", description="Where training runs: local, sagemaker or kubernetes."
    )
    instance_types: tuple[str, ...] = Field(
        ("ml.m5.large", "ml.m5.xlarge"), description="Instance types training jobs may use."
    )
    max_instances: int = Field(2, ge=1, le=100, description="Most instances in one training job.")
    spot: bool = Field(False, description="Use managed spot training (checkpoints to S3).")
    max_runtime_seconds: int = Field(
        86_400, ge=60, le=2_419_200, description="Hard stop for a training job, in seconds."
    )

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise _bad("the allowlist is empty", "list at least one instance type")
        for item in value:
            _check_instance_type(item, "TrainingInstanceType")
        return value


class EndpointConfig(_Group):
    instance_type: str = Field("ml.m5.large", description="Instance type of the serving variant.")
    min_instances: int = Field(1, ge=1, le=100, description="Fewest instances behind the endpoint.")
    max_instances: int = Field(2, ge=1, le=100, description="Most instances autoscaling may add.")
    target_invocations: int = Field(
        100, ge=1, description="Autoscaling target: invocations per instance per minute."
    )
    data_capture_percent: int = Field(
        100, ge=0, le=100, description="Percent of requests captured for monitoring (0: off)."
    )
    deployment_strategy: DeploymentStrategy = Field(
        "canary", description="Blue/green traffic shifting: all_at_once, canary or linear."
    )
    canary_percent: int = Field(
        10, ge=1, le=50, description="Traffic share of the canary or of each linear step."
    )
    bake_seconds: int = Field(
        600, ge=0, le=3600, description="Wait between traffic shifts while alarms are watched."
    )
    model_package_arn: str | None = Field(
        None, description="Approved model package to serve (promotes a model when changed)."
    )
    model_image: str | None = Field(
        None,
        description="Serving image, with endpointModelDataKey: a tag in the stack's ECR "
        "repository or a full ECR image URI.",
    )
    model_data_key: str | None = Field(
        None, description="Key of model.tar.gz in the stack's models bucket."
    )

    @field_validator("instance_type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _check_instance_type(value, "ProductionVariantInstanceType")

    @field_validator("model_package_arn")
    @classmethod
    def _package(cls, value: str | None) -> str | None:
        pattern = r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w-]+(/\d+)?"
        if value is not None and not re.fullmatch(pattern, value):
            raise _bad(
                "is not a SageMaker model package ARN",
                "use arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>",
            )
        return value

    @field_validator("model_image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        ecr = r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+"
        pinned = r"(:[\w.-]{1,128}|@sha256:[a-f0-9]{64})"
        if value is not None and not (
            re.fullmatch(r"[\w][\w.-]{0,127}", value) or re.fullmatch(ecr + pinned, value)
        ):
            raise _bad(
                "is neither an image tag nor an ECR image URI with a tag or digest",
                "use a tag in the stack's repository (e.g. serving-1.4.2) or "
                "<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>",
            )
        return value

    @field_validator("model_data_key")
    @classmethod
    def _data_key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w!.*'()/-]+\.tar\.gz", value):
            raise _bad(
                "is not an S3 key of a .tar.gz",
                "give the key inside the models bucket, e.g. churn/v3/model.tar.gz",
            )
        if value is not None and value.startswith("/"):
            raise _bad("starts with '/'", "drop the leading slash")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EndpointConfig:
        if self.min_instances > self.max_instances:
            raise _bad(
                f"min instances ({self.min_instances}) exceed max instances ({self.max_instances})",
                "set endpointMaxInstances at least as high as endpointMinInstances",
                key="endpointMaxInstances",
            )
        if self.model_package_arn and (self.model_image or self.model_data_key):
            raise _bad(
                "a model package and an image/model data are both set",
                "set either endpointModelPackageArn or endpointModelImage with "
                "endpointModelDataKey, not both",
                key="endpointModelPackageArn",
            )
        if bool(self.model_image) != bool(self.model_data_key):
            missing = "endpointModelDataKey" if self.model_image else "endpointModelImage"
            raise _bad(
                "an image and model data go together",
                f"also set {missing}",
                key=missing,
            )
        return self

    @model_validator(mode="after")
    def _rollout_fits(self) -> EndpointConfig:
        if self.deployment_strategy == "linear" and self.canary_percent < 10:
            raise _bad(
                "SageMaker's linear traffic shifting moves at least 10% per step",
                "set endpointCanaryPercent to 10 or more, or use canary",
                key="endpointCanaryPercent",
            )
        steps = {"all_at_once": 1, "canary": 2, "linear": -(-100 // self.canary_percent)}
        minutes = (steps[self.deployment_strategy] * self.bake_seconds + 900) / 60
        if minutes > 60:
            raise _bad(
                f"a {self.deployment_strategy} rollout would take about {minutes:.0f} minutes; "
                "pulumi-aws waits at most 60 minutes for an endpoint update",
                "lower endpointBakeSeconds or use fewer, larger steps (endpointCanaryPercent)",
                key="endpointBakeSeconds",
            )
        return self

    @property
    def serves_model(self) -> bool:
        return bool(self.model_package_arn or self.model_image)


class MonitoringConfig(_Group):
    latency_p99_ms: int = Field(500, ge=1, description="Alarm when p99 model latency exceeds this.")
    server_errors: int = Field(1, ge=1, description="Alarm at this many 5xx errors in 5 minutes.")
    client_errors: int = Field(50, ge=1, description="Alarm at this many 4xx errors in 5 minutes.")
    min_invocations: int = Field(
        0, ge=0, description="Alarm when 5-minute invocations drop below this (0: no alarm)."
    )
    cpu_percent: int = Field(80, ge=1, le=100, description="Alarm on instance CPU utilisation.")
    memory_percent: int = Field(80, ge=1, le=100, description="Alarm on instance memory use.")
    disk_percent: int = Field(80, ge=1, le=100, description="Alarm on instance disk use.")
    min_accuracy: float = Field(
        0.8, gt=0, le=1, description="Alarm when live accuracy drops below."
    )
    prediction_drift: float = Field(
        0.2, gt=0, description="Alarm when prediction drift (PSI) exceeds this."
    )
    alert_emails: tuple[str, ...] = Field((), description="Addresses subscribed to alerts.")
    log_retention_days: int = Field(90, description="Retention of the stack's log groups, in days.")

    @field_validator("alert_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", item):
                raise _bad(f"{item!r} is not an e-mail address", "write name@example.com")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return _check_retention(value)


class RetrainingConfig(_Group):
    enabled: bool = Field(True, description="Create retraining triggers and their queue.")
    schedule: str = Field(
        "cron(0 3 ? * MON *)", description="EventBridge schedule: cron(...) or rate(...)."
    )
    drift_threshold: float = Field(
        0.2, gt=0, description="Feature drift (PSI) that triggers retraining."
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return _check_schedule(value)


# A Kubernetes namespace name (DNS-1123 label).
_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_QUANTITY_SUFFIXES: Final = {
    "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
}  # fmt: skip


def _quantity(value: str) -> float:
    """A Kubernetes quantity as a number (cores or bytes), for comparisons only."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zA-Z]*)", value)
    if not match or match.group(2) not in ("", *_QUANTITY_SUFFIXES):
        return -1.0
    return float(match.group(1)) * _QUANTITY_SUFFIXES.get(match.group(2), 1.0)


class KubernetesConfig(_Group):
    enabled: bool = Field(False, description="Also deploy serving and training to Kubernetes.")
    namespace: str = Field("ml", description="Namespace for the stack's workloads.")
    kubeconfig: str = Field(
        "", description="Kubeconfig path; empty uses the ambient KUBECONFIG / in-cluster config."
    )
    oidc_provider_arn: str = Field(
        "",
        description=(
            "IAM OIDC provider of the EKS cluster: pods get AWS credentials through it (IRSA)."
        ),
    )

    serving_min_replicas: int = Field(
        2, ge=1, le=100, description="Fewest model-server pods (two survive a node drain)."
    )
    serving_max_replicas: int = Field(
        4, ge=1, le=100, description="Most model-server pods the autoscaler may run."
    )
    serving_cpu: str = Field("500m", description="CPU each model-server pod requests.")
    serving_memory: str = Field(
        "1Gi", description="Memory each model-server pod requests and is limited to."
    )
    serving_cpu_target: int = Field(
        70, ge=10, le=95, description="Average CPU use, in % of requests, the autoscaler keeps."
    )
    quota_cpu: str = Field("16", description="CPU requests all pods of the namespace may total.")
    quota_memory: str = Field(
        "64Gi", description="Memory limits all pods of the namespace may total."
    )
    ingress_namespaces: tuple[str, ...] = Field(
        (),
        description="Namespaces (e.g. an ingress controller's) allowed to reach the model "
        "server; pods of its own namespace always may.",
    )
    ingress_cidrs: tuple[str, ...] = Field(
        (),
        description="CIDR blocks allowed to reach the model server from outside the cluster's "
        "pods, e.g. the VPC's for a load balancer that targets pod IPs.",
    )
    serving_scratch: str = Field(
        "4Gi", description="Scratch space of a model-server pod (the model is unpacked there)."
    )
    cluster_name: str = Field(
        "",
        description="EKS cluster name: CI connects to it (aws eks update-kubeconfig) and the "
        "CI roles may describe it.",
    )

    @field_validator("serving_cpu", "quota_cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        if not re.fullmatch(r"(\d+(\.\d{1,3})?|\d+m)", value) or _quantity(value) <= 0:
            raise _bad("is not a CPU quantity", "write cores (e.g. 2, 0.5) or millicores (500m)")
        return value

    @field_validator("ingress_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=True)
            except ValueError:
                raise _bad(f"{item!r} is not a CIDR block", "write e.g. 10.40.0.0/16") from None
        return value

    @field_validator("cluster_name")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", value):
            raise _bad("is not an EKS cluster name", "use the name `aws eks list-clusters` shows")
        return value

    @field_validator("serving_memory", "quota_memory", "serving_scratch")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(Ki|Mi|Gi|Ti|k|M|G|T)?", value) or _quantity(value) <= 0:
            raise _bad("is not a memory quantity", "write e.g. 512Mi or 2Gi")
        return value

    @field_validator("ingress_namespaces")
    @classmethod
    def _ingress(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _DNS_LABEL.fullmatch(item):
                raise _bad(f"{item!r} is not a namespace name", "use DNS-1123 labels")
        return value

    @model_validator(mode="after")
    def _replicas(self) -> KubernetesConfig:
        if self.serving_max_replicas < self.serving_min_replicas:
            raise _bad(
                f"allows {self.serving_max_replicas} pods, fewer than the "
                f"{self.serving_min_replicas} of kubernetesServingMinReplicas",
                "raise kubernetesServingMaxReplicas or lower kubernetesServingMinReplicas",
                key="kubernetesServingMaxReplicas",
            )
        if _quantity(self.serving_cpu) > _quantity(self.quota_cpu) or _quantity(
            self.serving_memory
        ) > _quantity(self.quota_memory):
            raise _bad(
                "one model-server pod would not fit in the namespace quota",
                "raise kubernetesQuotaCpu/kubernetesQuotaMemory or lower the pod's requests",
                key="kubernetesQuotaCpu",
            )
        return self

    @field_validator("oidc_provider_arn")
    @classmethod
    def _cluster_provider(cls, value: str) -> str:
        pattern = r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/[A-Za-z0-9./_-]+"
        if value and not re.fullmatch(pattern, value):
            raise _bad(
                "is not an IAM OIDC provider ARN",
                "copy it from `aws iam list-open-id-connect-providers` (EKS: "
                "arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>)",
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value):
            raise _bad("is not a DNS-1123 label", "use lowercase letters, digits and '-'")
        return value


class CiConfig(_Group):
    github_repository: str = Field(
        description="GitHub owner/name trusted through OIDC to deploy this stack."
    )
    github_environment: str = Field(
        "", description="GitHub environment allowed to deploy (empty: the stack's environment)."
    )
    ml_environment: str = Field(
        "",
        description="GitHub environment of the retraining and promotion jobs (empty: "
        "<deploy environment>-ml): never the deploy one, so those jobs cannot deploy.",
    )
    preview_from_pull_requests: bool = Field(
        True, description="Let pull requests assume a read-only role to run previews."
    )
    oidc_provider_arn: str = Field(
        "", description="Existing GitHub OIDC provider ARN (empty: the stack creates one)."
    )
    state_bucket: str = Field(
        "",
        description="Bucket of a self-managed Pulumi backend (s3://<bucket>): the CI roles "
        "may use it, the preview and retraining roles read-only.",
    )
    secrets_kms_key_arn: str = Field(
        "",
        description="Key ARN of the stacks' awskms:// secrets provider: the CI roles may "
        "decrypt with it, the deploy role encrypt too.",
    )

    @field_validator("state_bucket")
    @classmethod
    def _state_bucket(cls, value: str) -> str:
        if value and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
            raise _bad(
                "is not an S3 bucket name",
                "give the bucket's name only, e.g. acme-pulumi-state (not s3://...)",
            )
        return value

    @field_validator("secrets_kms_key_arn")
    @classmethod
    def _secrets_key(cls, value: str) -> str:
        pattern = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}"
        if value and not re.fullmatch(pattern, value):
            raise _bad(
                "is not a KMS key ARN",
                "use the key's ARN, arn:aws:kms:<region>:<account>:key/<key id> (IAM "
                "policies cannot grant by alias: `aws kms describe-key --key-id alias/<name>`)",
            )
        return value

    @field_validator("github_repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}", value):
            raise _bad("is not a GitHub owner/name", "write it as my-org/my-repo")
        return value

    @field_validator("oidc_provider_arn")
    @classmethod
    def _provider(cls, value: str) -> str:
        pattern = r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com"
        if value and not re.fullmatch(pattern, value):
            raise _bad(
                "is not the ARN of a GitHub Actions OIDC provider",
                "use arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com",
            )
        return value


class RegistryConfig(_Group):
    auto_approve: bool = Field(
        False, description="Approve model packages that pass the gate without a reviewer."
    )
    gate_metric: Literal["auc", "accuracy", "f1"] = Field(
        "auc", description="Holdout metric the evaluation gate compares."
    )
    gate_minimum: float = Field(
        0.7, gt=0, le=1, description="A model scoring below this on the holdout is rejected."
    )
    gate_max_regression: float = Field(
        0.0, ge=0, le=1, description="How much worse than the champion a challenger may score."
    )
    keep_images: int = Field(20, ge=1, le=1000, description="ECR images kept per repository.")


class PolicyConfig(_Group):
    enforcement: EnforcementLevel = Field(
        "mandatory", description="Default level of every policy in this stack."
    )
    overrides: tuple[str, ...] = Field((), description="Per-policy levels as policy-name=level.")

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        levels = get_args(EnforcementLevel)
        for item in value:
            name, sep, level = item.partition("=")
            if not sep or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) or level not in levels:
                raise _bad(
                    f"{item!r} is not policy-name=level",
                    f"write e.g. s3-bucket-access-logging=advisory; levels: {', '.join(levels)}",
                )
        return value

    @property
    def levels(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.overrides)


# ---------------------------------------------------------------------------- the stack


class StackConfig(BaseModel):
    """Everything that differs between environments, validated once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str = Field(description="Pulumi project name; prefixes physical names.")
    stack: str = Field(description="Pulumi stack name.")
    environment: Environment = Field(description="Environment: local, dev, staging or prod.")
    region: str = Field(description="AWS region (aws:region).")
    allowed_account_ids: tuple[str, ...] = Field(
        description="The one AWS account this stack deploys to (aws:allowedAccountIds)."
    )
    owner: str = Field(description="Team or person answerable for the stack (owner tag).")
    cost_center: str = Field(description="Cost center billed (cost-center tag).")
    data_classification: DataClassification = Field(
        "confidential", description="Sensitivity of the data: public .. restricted."
    )
    network: NetworkConfig = NetworkConfig()
    storage: StorageConfig = StorageConfig()
    training: TrainingConfig = TrainingConfig()
    endpoint: EndpointConfig = EndpointConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    ci: CiConfig
    registry: RegistryConfig = RegistryConfig()
    policy: PolicyConfig = PolicyConfig()

    @field_validator("project", "stack")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", value):
            raise _bad(
                "must be lowercase letters, digits and '-' (it prefixes bucket names)",
                "rename it, e.g. ml-platform",
            )
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        known = _sagemaker_regions()
        if value not in known:
            close = difflib.get_close_matches(value, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"one of {', '.join(known)}"
            raise _bad("is not a region where SageMaker runs", f"set aws:region; {hint}")
        return value

    @field_validator("allowed_account_ids")
    @classmethod
    def _accounts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Bucket names, key policies and role ARNs name the account, so a stack deploys into
        # exactly one, and the provider refuses any other (aws:allowedAccountIds).
        if len(value) != 1:
            raise _bad(
                f"lists {len(value)} accounts; a stack deploys into exactly one",
                "set aws:allowedAccountIds: ['<12-digit account id>'] (the embedded "
                "emulator's account is 123456789012)",
            )
        for item in value:
            if not re.fullmatch(r"\d{12}", str(item)):
                raise _bad(
                    f"{item!r} is not a 12-digit AWS account id",
                    "quote it in YAML so leading zeros survive, e.g. '012345678901'",
                )
        return value

    @field_validator("owner", "cost_center")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not value.strip() or len(value) > 256:
            raise _bad("is empty or longer than a tag value allows", "set a non-empty value")
        return value

    @model_validator(mode="after")
    def _environment_rules(self) -> StackConfig:
        if self.environment is Environment.PROD:
            _prod_rules(self)
        _check_boundary_size(self)
        deploy_environment = self.ci.github_environment or self.environment.value
        if self.ci.ml_environment == deploy_environment:
            raise _bad(
                f"is the deploy environment {deploy_environment!r}: the retraining and "
                "promotion jobs could then assume the deploy role",
                f"use another GitHub environment, e.g. {deploy_environment}-ml (the default)",
                key="ciMlEnvironment",
            )
        if self.training.runner == "kubernetes" and not self.kubernetes.enabled:
            raise _bad(
                "training runs on Kubernetes but Kubernetes is disabled",
                "set mlops-platform:kubernetesEnabled: true, or choose another trainingRunner",
                key="trainingRunner",
            )
        if self.kubernetes.enabled and not self.kubernetes.oidc_provider_arn:
            raise _bad(
                "Kubernetes is enabled but its pods would have no AWS credentials",
                "set mlops-platform:kubernetesOidcProviderArn to the EKS cluster's IAM OIDC "
                "provider (`aws eks describe-cluster --name <cluster> --query "
                "cluster.identity.oidc.issuer`; `eksctl utils associate-iam-oidc-provider` "
                "creates it)",
                key="kubernetesOidcProviderArn",
            )
        if (
            self.kubernetes.enabled
            and self.endpoint.model_package_arn
            and not (self.endpoint.model_image)
        ):
            raise _bad(
                "Kubernetes serves a model by image and model data, not by model package",
                "set endpointModelImage and endpointModelDataKey (the package's image and "
                "model.tar.gz key), or disable Kubernetes",
                key="endpointModelPackageArn",
            )
        provider_account = self.kubernetes.oidc_provider_arn.split(":")[4:5]
        if provider_account and provider_account != [self.account_id]:
            raise _bad(
                f"names account {provider_account[0]}, but the stack deploys into "
                f"{self.account_id}",
                "use the OIDC provider of a cluster in the stack's account",
                key="kubernetesOidcProviderArn",
            )
        if self.kubernetes.enabled and not self.kubernetes.cluster_name:
            raise _bad(
                "Kubernetes is enabled but CI would not know which cluster to connect to",
                "set mlops-platform:kubernetesClusterName (`aws eks list-clusters`)",
                key="kubernetesClusterName",
            )
        return self

    @property
    def account_id(self) -> str:
        return self.allowed_account_ids[0]

    @property
    def name_prefix(self) -> str:
        """`<project>-<stack>`: the start of every physical name."""
        return f"{self.project}-{self.stack}"

    @property
    def partition(self) -> str:
        return partition_for(self.region)

    @property
    def pulumi_backend(self) -> PulumiBackend:
        """The self-managed Pulumi backend CI uses for this stack (empty: Pulumi Cloud)."""
        return PulumiBackend(
            self.partition,
            self.ci.state_bucket,
            self.ci.secrets_kms_key_arn,
            project=self.project,
            stack=self.stack,
        )

    @property
    def eks_cluster(self) -> str:
        """The EKS cluster CI connects to; empty without Kubernetes."""
        return self.kubernetes.cluster_name if self.kubernetes.enabled else ""

    @property
    def tags(self) -> dict[str, str]:
        """Provenance and ownership tags every taggable resource carries."""
        return {
            "project": self.project,
            "environment": self.environment.value,
            "stack": self.stack,
            "owner": self.owner,
            "cost-center": self.cost_center,
            "data-classification": self.data_classification,
            "managed-by": "pulumi",
        }

    def policy_pack_config(self) -> dict[str, Any]:
        """The policy pack's config for this stack, as `--policy-pack-config` takes it."""
        instance_types = sorted({*self.training.instance_types, self.endpoint.instance_type})
        config: dict[str, Any] = {
            "all": self.policy.enforcement,
            "required-tags": {"tags": ["owner", "cost-center", "environment", "project"]},
            "sagemaker-instance-type-allowed": {"allowedInstanceTypes": instance_types},
            "sagemaker-instance-count-capped": {
                "maxInstanceCount": max(self.training.max_instances, self.endpoint.max_instances)
            },
            "cloudwatch-log-group-retention": {
                "minRetentionDays": min(
                    self.monitoring.log_retention_days, self.network.flow_log_retention_days
                )
            },
        }
        for name, level in self.policy.levels.items():
            entry = config.get(name)
            config[name] = {**entry, "enforcementLevel": level} if entry else level
        return config


def _check_boundary_size(cfg: StackConfig) -> None:
    """The roles' permissions boundary names the stack's resources, backend and cluster:
    with the longest names it can outgrow IAM's quota, which `pulumi up` would only hit
    halfway through. Refuse it here instead."""
    from infra.boundary import boundary_policy
    from infra.policy_document import MANAGED_POLICY_LIMIT, policy_size

    document = boundary_policy(
        cfg.partition,
        cfg.region,
        cfg.account_id,
        cfg.name_prefix,
        cfg.pulumi_backend,
        eks_cluster=cfg.eks_cluster,
    )
    size = policy_size(document)
    if size > MANAGED_POLICY_LIMIT:
        raise _bad(
            f"makes the roles' permissions boundary {size} characters, over IAM's "
            f"{MANAGED_POLICY_LIMIT} for one policy",
            "shorten the project or stack name, ciStateBucket or kubernetesClusterName",
            key="ciStateBucket" if cfg.ci.state_bucket else "project",
        )


def _prod_rules(cfg: StackConfig) -> None:
    """Production must be observable, available and pinned to its accounts."""
    if cfg.endpoint.data_capture_percent == 0:
        raise _bad(
            "prod must capture endpoint traffic for monitoring and audit",
            "set mlops-platform:endpointDataCapturePercent between 1 and 100",
            key="endpointDataCapturePercent",
        )
    if cfg.endpoint.min_instances < 2:
        raise _bad(
            "prod needs at least 2 endpoint instances so one AZ failure does not stop serving",
            "set mlops-platform:endpointMinInstances to 2 or more",
            key="endpointMinInstances",
        )
    if not (cfg.network.enabled and cfg.network.isolated):
        raise _bad(
            "prod training and endpoints must run in an isolated VPC",
            "set networkEnabled: true and networkIsolated: true",
            key="networkIsolated",
        )


# ---------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class KeySpec:
    """One stack-file key and where it lands in the model."""

    key: str  # full key as written in the stack file, e.g. "mlops-platform:networkCidr"
    path: tuple[str, ...]  # ("network", "cidr")
    annotation: Any
    description: str
    default: Any  # `REQUIRED` when the key has no default
    required: bool


REQUIRED: Any = object()
# Fields that never come from a stack-file key.
_DERIVED = {"project", "stack", "region", "allowed_account_ids"}
_GROUPS: dict[str, type[_Group]] = {
    "network": NetworkConfig,
    "storage": StorageConfig,
    "training": TrainingConfig,
    "endpoint": EndpointConfig,
    "monitoring": MonitoringConfig,
    "retraining": RetrainingConfig,
    "kubernetes": KubernetesConfig,
    "ci": CiConfig,
    "registry": RegistryConfig,
    "policy": PolicyConfig,
}


@cache
def config_keys() -> dict[str, KeySpec]:
    """Every key a stack file may set, in model order."""
    specs: dict[str, KeySpec] = {}
    for name, field in StackConfig.model_fields.items():
        if name in _DERIVED:
            continue
        group = _GROUPS.get(name)
        if group is None:
            specs[f"{PROJECT_NAMESPACE}:{to_camel(name)}"] = _spec(
                f"{PROJECT_NAMESPACE}:{to_camel(name)}", (name,), field
            )
            continue
        for sub, subfield in group.model_fields.items():
            flat = name + to_pascal(sub)
            key = f"{PROJECT_NAMESPACE}:{flat}"
            specs[key] = _spec(key, (name, sub), subfield)
    for key, name in PROVIDER_KEYS.items():
        specs[key] = _spec(key, (name,), StackConfig.model_fields[name])
    return specs


def _spec(key: str, path: tuple[str, ...], field: Any) -> KeySpec:
    required = field.is_required()
    return KeySpec(
        key=key,
        path=path,
        annotation=field.annotation,
        description=field.description or "",
        default=REQUIRED if required else field.default,
        required=required,
    )


# ---------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    value: Any
    message: str
    fix: str

    def __str__(self) -> str:
        shown = "(not set)" if self.value is _MISSING else repr(self.value)
        return f"{self.key} = {shown}: {self.message}. Fix: {self.fix}"


_MISSING: Any = object()


class ConfigError(ValueError):
    """Bad stack configuration: names the file, each key, its value and the fix."""

    def __init__(self, source: str, problems: Iterable[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{source}: invalid stack configuration ({count} problem{'s' * (count != 1)}):\n{lines}"
        )


class UnknownStackError(ValueError):
    def __init__(self, stack: str, known: list[str], directory: Path) -> None:
        self.stack = stack
        self.known = known
        listed = ", ".join(known) or "none"
        super().__init__(
            f"unknown stack {stack!r}: no {directory}/Pulumi.{stack}.yaml. "
            f"Known stacks: {listed}. Fix: pass one of them, or create the stack file."
        )


# ---------------------------------------------------------------------------- parsing


def parse_config(
    raw: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    source: str,
    from_engine: bool = False,
) -> StackConfig:
    """Turn namespaced key/value pairs into a `StackConfig`, or raise `ConfigError`.

    `from_engine` values are strings as the Pulumi engine passes them; stack-file values
    are already typed by YAML.
    """
    specs = config_keys()
    problems: list[ConfigProblem] = []
    nested: dict[str, Any] = {"project": project, "stack": stack}
    for written, value in raw.items():
        namespace, sep, rest = written.partition(":")
        # A renamed project keeps the same keys under its own namespace.
        renamed = sep and namespace == project != PROJECT_NAMESPACE
        key = f"{PROJECT_NAMESPACE}:{rest}" if renamed else written
        spec = specs.get(key)
        if spec is None:
            problem = _unknown_key(key, value, specs)
            if problem:
                problems.append(problem)
            continue
        try:
            typed = _from_engine(value, spec) if from_engine else value
        except ValueError as exc:
            problems.append(ConfigProblem(key, value, str(exc), _type_fix(spec)))
            continue
        target = nested
        for part in spec.path[:-1]:
            target = target.setdefault(part, {})
        target[spec.path[-1]] = typed
    for spec in specs.values():
        if spec.required and _lookup(nested, spec.path) is _MISSING:
            problems.append(
                ConfigProblem(spec.key, _MISSING, "is required", f"set it: {spec.description}")
            )
    if problems:
        raise ConfigError(source, problems)
    try:
        return StackConfig.model_validate(nested)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, nested)) from None


def _unknown_key(key: str, value: Any, specs: Mapping[str, KeySpec]) -> ConfigProblem | None:
    namespace, sep, _ = key.partition(":")
    if not sep:
        return ConfigProblem(
            key, value, "is not namespaced", f"write it as {PROJECT_NAMESPACE}:{key}"
        )
    similar_namespace = (
        PROJECT_NAMESPACE.startswith(namespace)
        or difflib.SequenceMatcher(None, namespace, PROJECT_NAMESPACE).ratio() > 0.75
    )
    if namespace not in (PROJECT_NAMESPACE, "aws") and not similar_namespace:
        return None  # another provider's setting, passed through untouched
    if namespace == "aws" and key not in specs:
        return None  # provider settings we do not read (profile, endpoints, ...)
    close = difflib.get_close_matches(key, list(specs), n=1, cutoff=0.6)
    fix = f"did you mean {close[0]}?" if close else "remove it; `mlops config keys` lists them"
    return ConfigProblem(key, value, "is not a known configuration key", fix)


def _from_engine(value: Any, spec: KeySpec) -> Any:
    """Engine config values are strings; arrays arrive as JSON."""
    if not isinstance(value, str):
        return value
    if get_origin(spec.annotation) is tuple:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not a JSON array ({exc.msg})") from exc
        return parsed
    return value


def _type_fix(spec: KeySpec) -> str:
    default = "" if spec.default is REQUIRED else f" (default: {_plain(spec.default)!r})"
    return f"set {_type_name(spec.annotation)}{default}"


def _lookup(nested: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = nested
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _problems(exc: ValidationError, nested: Mapping[str, Any]) -> list[ConfigProblem]:
    by_path = {spec.path: spec for spec in config_keys().values()}
    problems = []
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
        if "key" in ctx:
            key = ctx["key"]
            if ":" not in key:
                key = f"{PROJECT_NAMESPACE}:{key}"
            spec = config_keys().get(key)
        else:
            spec = by_path.get(loc)
            key = spec.key if spec else ".".join(loc) or "(stack)"
        value = _lookup(nested, spec.path) if spec else error.get("input", _MISSING)
        if value is _MISSING and spec and spec.default is not REQUIRED:
            value = _plain(spec.default)
        fix = ctx.get("fix") or (_type_fix(spec) if spec else "correct the value")
        problems.append(ConfigProblem(key, value, error["msg"].rstrip("."), fix))
    return problems


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_TYPE_NAMES = {bool: "a boolean (true or false)", int: "a whole number", float: "a number"}


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is tuple:
        return "a list"
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "one of " + ", ".join(m.value for m in annotation)
    return _TYPE_NAMES.get(annotation, "a string")


# ---------------------------------------------------------------------------- checks


@cache
def _sagemaker_shapes() -> dict[str, tuple[str, ...]]:
    import botocore.session  # the service model is the authoritative list of types

    model = botocore.session.get_session().get_service_model("sagemaker")
    names = ("TrainingInstanceType", "ProductionVariantInstanceType")
    return {name: tuple(getattr(model.shape_for(name), "enum", ())) for name in names}


@cache
def _sagemaker_regions() -> list[str]:
    import botocore.session

    session = botocore.session.get_session()
    regions = set(session.get_available_regions("sagemaker"))
    for partition in ("aws-us-gov", "aws-cn"):
        regions |= set(session.get_available_regions("sagemaker", partition))
    return sorted(regions)


# CloudWatch Logs accepts only these retentions (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


def _check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda a: abs(a - value))
        raise _bad(
            "is not a retention CloudWatch Logs accepts",
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))} (nearest: {nearest})",
        )
    return value


def _check_instance_type(value: str, shape: str) -> str:
    known = _sagemaker_shapes()[shape]
    if value not in known:
        close = difflib.get_close_matches(value, known, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else "e.g. ml.m5.large"
        raise _bad(f"{value!r} is not a SageMaker {shape}", hint)
    return value


def _check_schedule(value: str) -> str:
    from aws_cron_expression_validator.validator import AWSCronExpressionValidator

    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", value)
    if rate:
        count, unit = int(rate[1]), rate[2]
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise _bad(
                "rate needs a positive count, singular unit for 1 and plural above",
                "write rate(1 day) or rate(7 days)",
            )
        return value
    cron = re.fullmatch(r"cron\((.+)\)", value)
    if not cron:
        raise _bad(
            "is not an EventBridge schedule",
            "write cron(minutes hours day-of-month month day-of-week year), e.g. "
            "cron(0 3 ? * MON *), or rate(7 days)",
        )
    try:
        AWSCronExpressionValidator.validate(cron[1])
    except ValueError as exc:
        raise _bad(
            f"invalid cron expression: {exc}",
            "EventBridge cron has 6 fields and needs ? in day-of-month or day-of-week, "
            "e.g. cron(0 3 ? * MON *)",
        ) from exc
    return value


# ---------------------------------------------------------------------------- loading


def repo_root() -> Path:
    """The project directory: where Pulumi.yaml lives (override with MLOPS_PROJECT_DIR)."""
    import os

    override = os.environ.get("MLOPS_PROJECT_DIR")
    if override:
        return Path(override)
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    """What Pulumi.yaml says: the project name, its stack directory and declared defaults."""

    root: Path
    name: str
    stack_dir: Path
    defaults: dict[str, Any]

    def stack_file(self, stack: str) -> Path:
        return self.stack_dir / f"Pulumi.{stack}.yaml"

    def stack_values(self, stack: str) -> dict[str, Any]:
        """The `config:` mapping of a stack file, as YAML typed it."""
        path = self.stack_file(stack)
        if not path.is_file():
            raise UnknownStackError(stack, self.stacks(), self.stack_dir)
        source = _display(path, self.root)
        values = _read_yaml(path).get("config") or {}
        if not isinstance(values, Mapping):
            raise ConfigError(
                source, [ConfigProblem("config", values, "is not a mapping", "write key: value")]
            )
        secrets = [k for k, v in values.items() if isinstance(v, Mapping) and "secure" in v]
        if secrets:
            raise ConfigError(
                source,
                [
                    ConfigProblem(
                        k, "<secret>", "no key of this project is a secret", "set it in plain text"
                    )
                    for k in secrets
                ],
            )
        return dict(values)

    def stacks(self) -> list[str]:
        prefix, suffix = "Pulumi.", ".yaml"
        return sorted(
            p.name[len(prefix) : -len(suffix)] for p in self.stack_dir.glob("Pulumi.*.yaml")
        )


def load_project(root: Path | None = None) -> Project:
    root = root or repo_root()
    path = root / "Pulumi.yaml"
    data = _read_yaml(path)
    name = data.get("name")
    if not isinstance(name, str):
        raise ConfigError(
            str(path), [ConfigProblem("name", name, "is missing", "name the project")]
        )
    defaults: dict[str, Any] = {}
    for key, decl in (data.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(decl, Mapping) and "default" in decl:
            defaults[full] = decl["default"]
        elif isinstance(decl, Mapping) and "value" in decl:
            defaults[full] = decl["value"]
        elif not isinstance(decl, Mapping):
            defaults[full] = decl
    return Project(root, name, root / data.get("stackConfigDir", "."), defaults)


def load_stack_config(
    stack: str, root: Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> StackConfig:
    """Offline: Pulumi.yaml defaults overlaid by stacks/Pulumi.<stack>.yaml (and overrides)."""
    project = load_project(root)
    values = {**project.defaults, **project.stack_values(stack), **dict(overrides or {})}
    return parse_config(
        values,
        project=project.name,
        stack=stack,
        source=_display(project.stack_file(stack), project.root),
    )


def load_config() -> StackConfig:
    """Under the Pulumi engine (or its mocks): read the running stack's config."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    # Read per call, never at import: the mocks set config after modules load. The CLI's
    # language host passes config in PULUMI_CONFIG; the Automation API and mocks set CONFIG.
    raw = {**get_config_env(), **CONFIG.get()}
    project, stack = pulumi.get_project(), pulumi.get_stack()
    return parse_config(
        raw, project=project, stack=stack, source=f"stack {stack!r} config", from_engine=True
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            str(path), [ConfigProblem("(file)", _MISSING, "does not exist", "create it")]
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            str(path),
            [ConfigProblem("(file)", _MISSING, f"is not valid YAML{where}", "fix the syntax")],
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), [ConfigProblem("(file)", data, "is not a mapping", "write key: value pairs")]
        )
    return data


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def engine_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Typed stack-file values as the engine passes them to a program: all strings."""
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple, dict)):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out
