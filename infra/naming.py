"""Physical names: `<project>-<stack>-<role>`, deterministic so that resources can name
each other (a key policy names a role, an endpoint names its rollback alarms) without
dependency cycles, and so that a name tells a reader which stack owns a resource."""

from __future__ import annotations

import hashlib
import re

_ALLOWED = re.compile(r"[^a-z0-9-]")


def physical_name(prefix: str, role: str, *, max_length: int = 63) -> str:
    """`<prefix>-<role>`, lowercased; shortened with a stable hash when too long.

    63 is the tightest common limit (S3 buckets, SageMaker endpoint names); IAM roles
    allow 64, CloudWatch alarms 255.
    """
    name = _ALLOWED.sub("-", f"{prefix}-{role}".lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: max_length - 9].rstrip('-')}-{digest}"


def bucket_name(prefix: str, role: str, account_id: str, region: str) -> str:
    """S3 names are global: the account and region make ours collision-free."""
    return physical_name(f"{prefix}-{role}-{account_id}", region)


def partition_for(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov): never hard-code `arn:aws:`."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_name(prefix: str, role: str) -> str:
    return physical_name(prefix, role, max_length=64)


# Roles every stack has; KMS key policies and IAM both use these names.
SAGEMAKER_EXECUTION_ROLE = "sagemaker-execution"
DEPLOY_ROLE = "ci-deploy"
PREVIEW_ROLE = "ci-preview"
RETRAIN_ROLE = "ci-retrain"
MONITORING_ROLE = "monitoring-read"
FLOW_LOGS_ROLE = "vpc-flow-logs"
# Roles of the Kubernetes workloads (IRSA), and the service accounts that assume them.
K8S_SERVING_ROLE = "k8s-serving"
K8S_TRAINING_ROLE = "k8s-training"
K8S_SERVING_SERVICE_ACCOUNT = "model-server"
K8S_TRAINING_SERVICE_ACCOUNT = "training"


def endpoint_name(prefix: str) -> str:
    """The stack's one endpoint: stable across model promotions (blue/green updates it)."""
    return physical_name(prefix, "endpoint")


def alarm_name(prefix: str, what: str) -> str:
    return physical_name(prefix, f"alarm-{what}", max_length=255)
