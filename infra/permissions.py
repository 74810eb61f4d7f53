"""`Permissions`: least-privilege inline policies for the roles `infra.iam.Roles` made.

Created after the keys, buckets and repository exist (their ARNs are in the policies),
while `Roles` comes before them (key policies name the roles): roles -> keys/buckets ->
permissions, no cycle.

Every document is built by a pure function of plain strings (tested without the engine).
Rules they follow: every statement has a Sid; no `*` action, no `service:*`; resources
are the stack's own ARNs (`<prefix>-*`) wherever the service has resource-level
permissions, and each `"Resource": "*"` says why AWS requires it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.backend import PulumiBackend, backend_statements
from infra.boundary import BOUNDED_ROLE_ACTIONS, boundary_arn
from infra.iam import partition_for
from infra.naming import (
    DEPLOY_ROLE,
    FLOW_LOGS_ROLE,
    SAGEMAKER_EXECUTION_ROLE,
    physical_name,
    role_name,
)
from infra.outputs import METRICS_NAMESPACE
from infra.policy_document import PolicyDocument, allow, document
from infra.tags import merge_tags

# Namespaces the SageMaker role may publish metrics to: ours, and the two SageMaker
# itself writes to on the role's behalf (training metric definitions, endpoint metrics).
SAGEMAKER_METRIC_NAMESPACES = (
    METRICS_NAMESPACE,
    "/aws/sagemaker/TrainingJobs",
    "/aws/sagemaker/Endpoints",
)
# Where datasets may be written by SageMaker processing jobs (derived splits/features);
# everything else in the datasets bucket is read-only to jobs, so a buggy or compromised
# job cannot rewrite the data a model is trained and evaluated on.
DATASETS_WRITABLE_PREFIX = "processing/"
APP_AUTOSCALING_SAGEMAKER = "sagemaker.application-autoscaling.amazonaws.com"


@dataclass(frozen=True)
class Scope:
    """Where ARNs point: the stack's partition, region, account and name prefix."""

    partition: str
    region: str
    account_id: str
    prefix: str

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        r = self.region if region else ""
        a = self.account_id if account else ""
        return f"arn:{self.partition}:{service}:{r}:{a}:{resource}"

    # The stack's own resources, by naming convention `<prefix>-...` (infra.naming).
    def buckets(self) -> str:
        return f"arn:{self.partition}:s3:::{self.prefix}-*"

    def roles(self) -> str:
        return self.arn("iam", f"role/{self.prefix}-*", region=False)

    def role(self, name: str) -> str:
        return self.arn("iam", f"role/{name}", region=False)

    def policies(self) -> str:
        return self.arn("iam", f"policy/{self.prefix}-*", region=False)

    def boundary(self) -> str:
        """The permissions boundary every stack role carries (infra.boundary)."""
        return boundary_arn(self.partition, self.account_id, self.prefix)

    def log_groups(self) -> list[str]:
        """The stack's log groups, and their streams (`:*`)."""
        groups = [
            self.arn("logs", f"log-group:/mlops/{self.prefix}/*"),
            # SageMaker names an endpoint's log group after it; ours start with the prefix.
            self.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{self.prefix}-*"),
        ]
        return [*groups, *(f"{g}:*" for g in groups)]


# ---------------------------------------------------------------------------- SageMaker role

SAGEMAKER_VPC_DESCRIBE = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
SAGEMAKER_VPC_ENI = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
)


def sagemaker_execution_policy(
    scope: Scope,
    *,
    datasets_bucket_arn: str,
    models_bucket_arn: str,
    capture_bucket_arn: str,
    kms_key_arns: Sequence[str],
    repository_arn: str,
    vpc_id: str | None = None,
) -> PolicyDocument:
    """What training jobs, models and endpoints run with.

    - datasets: read-only, except `processing/` (outputs of processing jobs);
    - models: read/write (training output, checkpoints, model artifacts);
    - capture: read/write (endpoint data capture; monitoring jobs read it);
    - no s3:DeleteObjectVersion anywhere: deletes leave a delete marker, so versioned
      history (the audit trail of data and models) cannot be destroyed by a job.
    """
    buckets = [datasets_bucket_arn, models_bucket_arn, capture_bucket_arn]
    statements = [
        allow(
            "ListStackBuckets",
            ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            buckets,
        ),
        allow(
            "ReadDatasets",
            ["s3:GetObject", "s3:GetObjectVersion"],
            f"{datasets_bucket_arn}/*",
        ),
        allow(
            "WriteProcessingOutputs",
            [
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            f"{datasets_bucket_arn}/{DATASETS_WRITABLE_PREFIX}*",
        ),
        allow(
            "ReadWriteModels",
            [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                # Managed spot training syncs checkpoints, removing stale ones.
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            f"{models_bucket_arn}/*",
        ),
        allow(
            # No delete: capture records are evidence; the lifecycle rule expires them.
            "ReadWriteCapture",
            [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            f"{capture_bucket_arn}/*",
        ),
        allow(
            "UseDataKeys",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            list(kms_key_arns),
        ),
        allow(
            # SageMaker creates grants to encrypt training volumes and endpoint storage;
            # only grants for AWS resources, never grants to arbitrary principals.
            "GrantDataKeysToAwsResources",
            ["kms:CreateGrant"],
            list(kms_key_arns),
            {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        allow(
            "PullStackImages",
            [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            repository_arn,
        ),
        allow(
            # GetAuthorizationToken is account-wide: AWS supports no resource-level
            # permission for it. The token alone pulls nothing; the statement above
            # limits pulls to the stack's repository.
            "EcrLogin",
            ["ecr:GetAuthorizationToken"],
            "*",
        ),
        allow(
            # SageMaker writes to fixed log groups (/aws/sagemaker/TrainingJobs,
            # /aws/sagemaker/Endpoints/<name>, ...) that no stack can rename.
            "WriteSageMakerLogs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            [
                scope.arn("logs", "log-group:/aws/sagemaker/*"),
                scope.arn("logs", "log-group:/aws/sagemaker/*:log-stream:*"),
            ],
        ),
        allow(
            # Blue/green updates read the rollback alarms' state before shifting traffic.
            "ReadRollbackAlarms",
            ["cloudwatch:DescribeAlarms"],
            scope.arn("cloudwatch", f"alarm:{scope.prefix}-*"),
        ),
        allow(
            # PutMetricData supports no resource-level permission; the namespace
            # condition is the only way to scope it.
            "PutMetricsInKnownNamespaces",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": list(SAGEMAKER_METRIC_NAMESPACES)}},
        ),
    ]
    if vpc_id:
        # Jobs and endpoints in the VPC attach network interfaces in our subnets. Only
        # needed (and only granted) when the stack has a VPC.
        in_vpc = {"ArnEquals": {"ec2:Vpc": scope.arn("ec2", f"vpc/{vpc_id}")}}
        interfaces = scope.arn("ec2", "network-interface/*")
        statements += [
            allow(
                # Describe calls support no resource-level permission.
                "DescribeVpcForJobs",
                SAGEMAKER_VPC_DESCRIBE,
                "*",
            ),
            allow(
                # A new interface has no VPC to condition on yet; the subnet and security
                # group it is created in must be the stack VPC's (next statement).
                "CreateInterfaces",
                ["ec2:CreateNetworkInterface"],
                interfaces,
            ),
            allow(
                "CreateInterfacesInStackVpc",
                ["ec2:CreateNetworkInterface"],
                [scope.arn("ec2", "subnet/*"), scope.arn("ec2", "security-group/*")],
                in_vpc,
            ),
            allow(
                "ManageInterfacesInStackVpc",
                [a for a in SAGEMAKER_VPC_ENI if a != "ec2:CreateNetworkInterface"],
                interfaces,
                in_vpc,
            ),
        ]
    return document(*statements)


# ---------------------------------------------------------------------------- Kubernetes pods


def kubernetes_serving_policy(
    *, models_bucket_arn: str, capture_bucket_arn: str, kms_key_arns: Sequence[str]
) -> PolicyDocument:
    """Model-server pods: fetch the model they serve, write capture records (as SageMaker
    would), nothing else: no dataset access, no deletes."""
    return document(
        allow("ListServingBuckets", ["s3:ListBucket"], [models_bucket_arn, capture_bucket_arn]),
        allow("ReadModels", ["s3:GetObject", "s3:GetObjectVersion"], f"{models_bucket_arn}/*"),
        allow(
            "WriteCapture",
            ["s3:PutObject", "s3:AbortMultipartUpload"],
            f"{capture_bucket_arn}/*",
        ),
        allow(
            "UseDataKeys",
            ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            list(kms_key_arns),
        ),
    )


def kubernetes_training_policy(
    *, datasets_bucket_arn: str, models_bucket_arn: str, kms_key_arns: Sequence[str]
) -> PolicyDocument:
    """Training pods: the SageMaker role's data plane minus what only SageMaker needs
    (grants, logs, network interfaces): read datasets, read and write models."""
    return document(
        allow(
            "ListTrainingBuckets",
            ["s3:ListBucket", "s3:GetBucketLocation"],
            [datasets_bucket_arn, models_bucket_arn],
        ),
        allow("ReadDatasets", ["s3:GetObject", "s3:GetObjectVersion"], f"{datasets_bucket_arn}/*"),
        allow(
            "ReadWriteModels",
            [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            f"{models_bucket_arn}/*",
        ),
        allow(
            "UseDataKeys",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            list(kms_key_arns),
        ),
        allow(
            # PutMetricData supports no resource-level permission; the namespace
            # condition is the only way to scope it.
            "PutTrainingMetrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        ),
    )


# ---------------------------------------------------------------------------- CI roles

# Read actions the Pulumi AWS provider calls to refresh/diff the stack's resources. They
# read configuration, never data: no s3:GetObject, kms:Decrypt, logs:GetLogEvents,
# sqs:ReceiveMessage or ecr:BatchGetImage.
S3_BUCKET_READ = (
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketWebsite",
    "s3:GetBucketVersioning",
    "s3:GetAccelerateConfiguration",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketLogging",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketTagging",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketNotification",
)
S3_BUCKET_WRITE = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketLogging",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketTagging",
    "s3:PutBucketNotification",
)
KMS_KEY_READ = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
)
# No kms:DisableKeyRotation, kms:DisableKey: the stack never turns protection off. No
# CreateKey, PutKeyPolicy or ScheduleKeyDeletion: keys, and who may use them, are the
# administrator's (infra.boundary denies them to every bounded role).
KMS_KEY_WRITE = (
    "kms:EnableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
)
IAM_ROLE_READ = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListRoleTags",
)
# No CreateRole, DeleteRole or UpdateAssumeRolePolicy: identities and their trust are the
# administrator's (infra.boundary denies them to every bounded role).
IAM_ROLE_WRITE = (
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:ListInstanceProfilesForRole",
)
# Changing what a role may do: only roles that carry the stack's boundary (attach and
# detach are in `_foundation_extras`).
IAM_BOUNDED_ROLE_WRITE = tuple(
    a
    for a in BOUNDED_ROLE_ACTIONS
    if a not in ("iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:CreateRole")
)
IAM_POLICY_READ = (
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListPolicyVersions",
    "iam:ListPolicyTags",
)
IAM_POLICY_WRITE = (
    "iam:CreatePolicy",
    "iam:DeletePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
    "iam:ListEntitiesForPolicy",
)
IAM_OIDC_READ = ("iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags")
EC2_NETWORK_WRITE = (
    "ec2:CreateVpc",
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateSubnet",
    "ec2:DeleteSubnet",
    "ec2:ModifySubnetAttribute",
    "ec2:CreateRouteTable",
    "ec2:DeleteRouteTable",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:ReplaceRoute",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:CreateVpcEndpoint",
    "ec2:DeleteVpcEndpoints",
    "ec2:ModifyVpcEndpoint",
    "ec2:CreateFlowLogs",
    "ec2:DeleteFlowLogs",
    "ec2:CreateInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:DeleteInternetGateway",
    "ec2:AllocateAddress",
    "ec2:ReleaseAddress",
    "ec2:CreateNatGateway",
    "ec2:DeleteNatGateway",
    "ec2:CreateTags",
    "ec2:DeleteTags",
)
LOGS_READ = ("logs:ListTagsForResource", "logs:DescribeMetricFilters")
LOGS_WRITE = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:PutMetricFilter",
    "logs:DeleteMetricFilter",
)
CLOUDWATCH_READ = ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource")
CLOUDWATCH_WRITE = (
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:PutCompositeAlarm",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:EnableAlarmActions",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
)
DASHBOARD_READ = ("cloudwatch:GetDashboard",)
DASHBOARD_WRITE = ("cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards")
SNS_READ = (
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
)
SNS_WRITE = (
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Subscribe",
    "sns:TagResource",
    "sns:UntagResource",
)
# The Service Authorization Reference gives these no resource type: they are authorised
# on "*" only, whatever the subscription's topic.
SNS_SUBSCRIPTION_READ = ("sns:GetSubscriptionAttributes",)
SNS_SUBSCRIPTION_WRITE = ("sns:SetSubscriptionAttributes", "sns:Unsubscribe")
SQS_READ = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags")
SQS_WRITE = (
    "sqs:CreateQueue",
    "sqs:DeleteQueue",
    "sqs:SetQueueAttributes",
    "sqs:TagQueue",
    "sqs:UntagQueue",
)
EVENTS_READ = ("events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource")
EVENTS_WRITE = (
    "events:PutRule",
    "events:DeleteRule",
    "events:EnableRule",
    "events:DisableRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:TagResource",
    "events:UntagResource",
)
ECR_READ = (
    "ecr:DescribeRepositories",
    "ecr:GetLifecyclePolicy",
    "ecr:GetRepositoryPolicy",
    "ecr:ListTagsForResource",
)
ECR_WRITE = (
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:TagResource",
    "ecr:UntagResource",
)
SAGEMAKER_READ = (
    "sagemaker:DescribeModel",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:GetModelPackageGroupPolicy",
    "sagemaker:ListTags",
)
SAGEMAKER_WRITE = (
    "sagemaker:CreateModel",
    "sagemaker:DeleteModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:DeleteEndpointConfig",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:DeleteEndpoint",
    "sagemaker:UpdateEndpointWeightsAndCapacities",
    "sagemaker:CreateModelPackageGroup",
    "sagemaker:DeleteModelPackageGroup",
    "sagemaker:PutModelPackageGroupPolicy",
    "sagemaker:DeleteModelPackageGroupPolicy",
    "sagemaker:AddTags",
    "sagemaker:DeleteTags",
)
AUTOSCALING_READ = (
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:DescribeScalingActivities",
)
AUTOSCALING_WRITE = (
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DeleteScalingPolicy",
)
AUTOSCALING_TAGS = (
    "application-autoscaling:ListTagsForResource",
    "application-autoscaling:TagResource",
    "application-autoscaling:UntagResource",
)


@dataclass(frozen=True)
class _Group:
    """One service area: what it reads and writes, on which of the stack's resources."""

    sid: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any] = field(default_factory=dict)
    part: str = "foundation"
    """Which of the deploy role's managed policies (DEPLOY_POLICY_PARTS) holds it."""


def _groups(scope: Scope, *, network: bool) -> list[_Group]:
    stack_tagged = {"StringLike": {"aws:ResourceTag/Name": f"{scope.prefix}-*"}}
    # Tagging a resource that has no Name tag yet (at creation) with the stack's Name.
    new_stack_tagged = {
        "StringLike": {"aws:RequestTag/Name": f"{scope.prefix}-*"},
        "Null": {"aws:ResourceTag/Name": "true"},
    }
    obs, ml = "observability", "ml"
    alarm = scope.arn("cloudwatch", f"alarm:{scope.prefix}-*")
    # Target-tracking scaling creates its alarms itself, named after the endpoint.
    tracking = scope.arn("cloudwatch", f"alarm:TargetTracking-endpoint/{scope.prefix}-*")
    groups = [
        _Group("StackBuckets", S3_BUCKET_READ, S3_BUCKET_WRITE, (scope.buckets(),)),
        _Group(
            # Key ARNs carry random ids, so keys are scoped by their Name tag, which every
            # stack resource carries (infra.tags.merge_tags) and which starts with the prefix.
            "StackKeys",
            KMS_KEY_READ,
            KMS_KEY_WRITE,
            (scope.arn("kms", "key/*"),),
            stack_tagged,
        ),
        _Group(
            "StackKeyAliases",
            (),
            ("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"),
            (scope.arn("kms", f"alias/{scope.prefix}-*"),),
        ),
        _Group("StackRoles", IAM_ROLE_READ, IAM_ROLE_WRITE, (scope.roles(),)),
        _Group(
            "StackRolesBounded",
            (),
            IAM_BOUNDED_ROLE_WRITE,
            (scope.roles(),),
            {"StringEquals": {"iam:PermissionsBoundary": scope.boundary()}},
        ),
        _Group(
            "StackPolicies",
            IAM_POLICY_READ,
            IAM_POLICY_WRITE,
            (scope.policies(),),
        ),
        _Group(
            # Read only: the provider, shared by every stack of the account, is the
            # administrator's (created by the bootstrap, never by CI).
            "GitHubOidcProvider",
            IAM_OIDC_READ,
            (),
            (scope.arn("iam", "oidc-provider/token.actions.githubusercontent.com", region=False),),
        ),
        _Group("StackLogGroups", LOGS_READ, LOGS_WRITE, tuple(scope.log_groups()), {}, obs),
        _Group("StackAlarms", CLOUDWATCH_READ, CLOUDWATCH_WRITE, (alarm, tracking), {}, obs),
        _Group(
            "StackDashboards",
            DASHBOARD_READ,
            DASHBOARD_WRITE,
            (scope.arn("cloudwatch", f"dashboard/{scope.prefix}-*", region=False),),
            {},
            obs,
        ),
        _Group(
            "StackTopics", SNS_READ, SNS_WRITE, (scope.arn("sns", f"{scope.prefix}-*"),), {}, obs
        ),
        _Group(
            "TopicSubscriptions", SNS_SUBSCRIPTION_READ, SNS_SUBSCRIPTION_WRITE, ("*",), {}, obs
        ),
        _Group(
            "StackQueues", SQS_READ, SQS_WRITE, (scope.arn("sqs", f"{scope.prefix}-*"),), {}, obs
        ),
        _Group(
            "StackEventRules",
            EVENTS_READ,
            EVENTS_WRITE,
            (scope.arn("events", f"rule/{scope.prefix}-*"),),
            {},
            obs,
        ),
        _Group(
            "StackRepositories",
            ECR_READ,
            ECR_WRITE,
            (scope.arn("ecr", f"repository/{scope.prefix}-*"),),
            {},
            ml,
        ),
        _Group(
            # Models, endpoint configs, endpoints, package groups and their packages.
            "StackSageMaker",
            SAGEMAKER_READ,
            SAGEMAKER_WRITE,
            (scope.arn("sagemaker", f"*/{scope.prefix}-*"),),
            {},
            ml,
        ),
        _Group(
            # Scalable targets carry generated ids: scope by service namespace instead.
            "EndpointAutoscaling",
            (),
            AUTOSCALING_WRITE,
            (scope.arn("application-autoscaling", "scalable-target/*"),),
            {"StringEquals": {"application-autoscaling:service-namespace": "sagemaker"}},
            ml,
        ),
        _Group(
            # Tag actions do not carry the service-namespace key: scope by Name tag.
            "EndpointAutoscalingTags",
            ("application-autoscaling:ListTagsForResource",),
            ("application-autoscaling:TagResource", "application-autoscaling:UntagResource"),
            (scope.arn("application-autoscaling", "scalable-target/*"),),
            stack_tagged,
            ml,
        ),
        _Group(
            # Tags given when the target is registered (it has none yet).
            "TagNewScalableTargets",
            (),
            ("application-autoscaling:TagResource",),
            (scope.arn("application-autoscaling", "scalable-target/*"),),
            new_stack_tagged,
            ml,
        ),
    ]
    if network:
        groups.append(
            _Group(
                # EC2 ids are generated, so ARNs cannot name the stack's resources; the
                # explicit action list (no RunInstances, no peering, no VPN) is the limit.
                # AWS-owned prefix lists and endpoint services are referenced, not changed.
                "StackNetwork",
                (),
                EC2_NETWORK_WRITE,
                (
                    scope.arn("ec2", "*"),
                    f"arn:{scope.partition}:ec2:{scope.region}:aws:prefix-list/*",
                    f"arn:{scope.partition}:ec2:{scope.region}:*:vpc-endpoint-service/*",
                ),
                {},
                ml,
            )
        )
    return groups


def _account_wide_reads(network: bool) -> dict[str, Any]:
    """Reads AWS only authorises on `"Resource": "*"` (they list or describe before any
    resource is known). All read metadata only."""
    actions = [
        "kms:ListAliases",
        "logs:DescribeLogGroups",
        *AUTOSCALING_READ,
    ]
    if network:
        # The provider's VPC reads span ~20 Describe calls, none with resource-level
        # permissions; Describe* is read-only metadata.
        actions.append("ec2:Describe*")
    return allow("AccountWideDescribe", actions, "*")


def _foundation_extras(scope: Scope, pass_roles: Mapping[str, str]) -> list[dict[str, Any]]:
    """Deploy statements outside the per-service groups: creation and delegation."""
    statements = [
        allow(
            # Endpoint configs, repositories and log groups encrypted with the stack's keys
            # make the service create a grant with the caller's credentials.
            "GrantStackKeysToAwsResources",
            ["kms:CreateGrant"],
            scope.arn("kms", "key/*"),
            {
                "Bool": {"kms:GrantIsForAWSResource": "true"},
                "StringLike": {"aws:ResourceTag/Name": f"{scope.prefix}-*"},
            },
        ),
        allow(
            # Only the stack's own customer-managed policies (never an AWS-managed one),
            # only to roles that carry the stack's boundary.
            "AttachStackPolicies",
            ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
            scope.roles(),
            {
                "ArnLike": {"iam:PolicyARN": scope.policies()},
                "StringEquals": {"iam:PermissionsBoundary": scope.boundary()},
            },
        ),
        allow(
            # Endpoint autoscaling needs its service-linked role once per account.
            "AutoscalingServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            scope.arn(
                "iam",
                f"role/aws-service-role/{APP_AUTOSCALING_SAGEMAKER}/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                region=False,
            ),
            {"StringEquals": {"iam:AWSServiceName": APP_AUTOSCALING_SAGEMAKER}},
        ),
    ]
    for index, (role, service) in enumerate(sorted(pass_roles.items())):
        statements.append(
            allow(
                # Each role goes to exactly one service: no passing the deploy role on.
                f"PassRole{index}",
                ["iam:PassRole"],
                scope.role(role),
                {"StringEquals": {"iam:PassedToService": service}},
            )
        )
    return statements


# Storage, keys and IAM; logs, alarms, notifications and events; ML services and network.
DEPLOY_POLICY_PARTS = ("foundation", "observability", "ml")


def deploy_policies(
    scope: Scope,
    *,
    network: bool,
    pass_roles: Mapping[str, str] | None = None,
    backend: PulumiBackend | None = None,
    eks_cluster: str = "",
) -> dict[str, PolicyDocument]:
    """What `pulumi up`/`destroy` of this stack needs, on this stack's resources only, as
    one document per DEPLOY_POLICY_PARTS. Together they exceed the 10,240 characters a
    role's inline policies may total, so the deploy role gets them as customer-managed
    policies (6,144 characters each).

    `pass_roles` maps a role name to the one service it may be passed to; by default the
    SageMaker execution role to SageMaker and, with a network, the flow-logs role to VPC
    Flow Logs. The deploy role never creates or deletes a role, never changes a trust
    policy, a key policy or the CI roles' own permissions: those are the administrator's,
    and the stack's permissions boundary (infra.boundary), which it cannot change, denies
    them to it whatever it grants itself.
    """
    groups = _groups(scope, network=network)
    roles = dict(pass_roles) if pass_roles is not None else default_pass_roles(scope, network)
    parts: dict[str, list[dict[str, Any]]] = {part: [] for part in DEPLOY_POLICY_PARTS}
    for group in groups:
        actions = (*group.read, *group.write)
        if actions:
            parts[group.part].append(allow(group.sid, actions, group.resources, group.condition))
    parts["foundation"] += _foundation_extras(scope, roles)
    parts["observability"] += backend_statements(backend or PulumiBackend(), write=True)
    parts["ml"] += _cluster_statements(scope, eks_cluster)
    parts["ml"].append(_account_wide_reads(network))
    return {part: document(*statements) for part, statements in parts.items()}


def default_pass_roles(scope: Scope, network: bool) -> dict[str, str]:
    roles = {role_name(scope.prefix, SAGEMAKER_EXECUTION_ROLE): "sagemaker.amazonaws.com"}
    if network:
        roles[role_name(scope.prefix, FLOW_LOGS_ROLE)] = "vpc-flow-logs.amazonaws.com"
    return roles


def _cluster_statements(scope: Scope, eks_cluster: str) -> list[dict[str, Any]]:
    """Connecting to the stack's EKS cluster (`aws eks update-kubeconfig`): what the
    roles may do inside is the cluster's access entries' business."""
    if not eks_cluster:
        return []
    return [
        allow(
            "DescribeStackCluster",
            ["eks:DescribeCluster"],
            scope.arn("eks", f"cluster/{eks_cluster}"),
        )
    ]


def preview_policy(
    scope: Scope,
    *,
    network: bool,
    backend: PulumiBackend | None = None,
    eks_cluster: str = "",
) -> PolicyDocument:
    """Read-only: what `pulumi preview` (refresh and diff) reads, on the same resources as
    the deploy role. Configuration only, never the stack's data (no object reads, no
    decrypt); only a self-managed backend's state and secrets, which preview reads."""
    statements = [
        allow(group.sid, group.read, group.resources, group.condition)
        for group in _groups(scope, network=network)
        if group.read
    ]
    extra = backend_statements(backend or PulumiBackend(), write=False)
    cluster = _cluster_statements(scope, eks_cluster)
    return document(*statements, _account_wide_reads(network), *extra, *cluster)


def retrain_policy(
    scope: Scope,
    *,
    datasets_bucket_arn: str,
    models_bucket_arn: str,
    capture_bucket_arn: str,
    queue_arn: str,
    sagemaker_role_arn: str,
    repository_arn: str,
    backend: PulumiBackend | None = None,
) -> PolicyDocument:
    """What `mlops retrain --consume` needs on a real stack: read datasets and capture,
    write training artifacts and the retraining ledger, consume the queue, submit training
    jobs with the stack's execution role, register model packages, publish metrics. No
    infrastructure rights: promotion is a reviewed change to the stack file."""
    prefix = scope.prefix
    return document(
        allow(
            "ReadDatasetsAndCapture",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"],
            [
                datasets_bucket_arn,
                f"{datasets_bucket_arn}/*",
                capture_bucket_arn,
                f"{capture_bucket_arn}/*",
            ],
        ),
        allow(
            "WriteTrainingArtifactsAndLedger",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:ListBucket"],
            [
                models_bucket_arn,
                f"{models_bucket_arn}/training/*",
                f"{models_bucket_arn}/checkpoints/*",
                f"{models_bucket_arn}/retraining/*",
            ],
        ),
        allow(
            "ConsumeRetrainingRequests",
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            ],
            queue_arn,
        ),
        allow(
            "SubmitTrainingJobs",
            [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:AddTags",
            ],
            scope.arn("sagemaker", f"training-job/{prefix}-*"),
        ),
        allow(
            "RegisterModelPackages",
            [
                "sagemaker:CreateModelPackage",
                "sagemaker:DescribeModelPackage",
                "sagemaker:ListModelPackages",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:AddTags",
            ],
            [
                scope.arn("sagemaker", f"model-package/{prefix}-*"),
                scope.arn("sagemaker", f"model-package-group/{prefix}-*"),
            ],
        ),
        allow(
            # Training jobs run as the stack's execution role, and only for SageMaker.
            "PassExecutionRoleToSageMaker",
            ["iam:PassRole"],
            sagemaker_role_arn,
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        allow(
            "CheckTrainingImage",
            ["ecr:DescribeImages"],
            repository_arn,
        ),
        allow(
            # PutMetricData supports no resource-level permission; the namespace condition
            # is the only way to scope it.
            "PublishQualityMetrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": "MLOps"}},
        ),
        # The jobs read the stack's outputs with `pulumi stack output`.
        *backend_statements(backend or PulumiBackend(), write=False),
    )


def monitoring_policy(scope: Scope) -> PolicyDocument:
    """Humans on call: metrics, alarms and the stack's logs, read-only."""
    return document(
        allow(
            # Metric reads support no resource-level permission.
            "ReadMetrics",
            [
                "cloudwatch:GetMetricData",
                "cloudwatch:GetMetricStatistics",
                "cloudwatch:ListMetrics",
                "cloudwatch:DescribeAlarmsForMetric",
            ],
            "*",
        ),
        allow(
            "ReadStackAlarms",
            ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            [
                scope.arn("cloudwatch", f"alarm:{scope.prefix}-*"),
                scope.arn("cloudwatch", f"alarm:TargetTracking-endpoint/{scope.prefix}-*"),
            ],
        ),
        allow(
            "ReadStackDashboards",
            ["cloudwatch:GetDashboard"],
            scope.arn("cloudwatch", f"dashboard/{scope.prefix}-*", region=False),
        ),
        allow(
            # Listing log groups supports no resource-level permission.
            "ListLogGroups",
            ["logs:DescribeLogGroups"],
            "*",
        ),
        allow(
            "ReadStackLogs",
            [
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
                "logs:StartQuery",
                "logs:GetQueryResults",
                "logs:GetLogGroupFields",
            ],
            [
                *scope.log_groups(),
                # Training jobs share one SageMaker log group; streams start with the job
                # name, which ml/ prefixes with the stack prefix.
                scope.arn(
                    "logs", f"log-group:/aws/sagemaker/TrainingJobs:log-stream:{scope.prefix}-*"
                ),
            ],
        ),
        allow(
            # Cancelling a query is addressed by query id only (no resource-level permission).
            "StopQueries",
            ["logs:StopQuery"],
            "*",
        ),
    )


# ---------------------------------------------------------------------------- component


@dataclass(frozen=True)
class PermissionsArgs:
    prefix: str
    """Name prefix of the stack (cfg.name_prefix): scopes every `<prefix>-*` ARN."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) for the managed policies."""
    account_id: pulumi.Input[str]
    """AWS account of the stack."""
    region: str
    """AWS region of the stack (cfg.region)."""
    sagemaker_role_name: pulumi.Input[str]
    """Roles.sagemaker_role_name."""
    deploy_role_name: pulumi.Input[str]
    """Roles.deploy_role_name."""
    monitoring_role_name: pulumi.Input[str]
    """Roles.monitoring_role_name."""
    datasets_bucket_arn: pulumi.Input[str]
    """ARN of the datasets bucket."""
    models_bucket_arn: pulumi.Input[str]
    """ARN of the models bucket."""
    capture_bucket_arn: pulumi.Input[str]
    """ARN of the endpoint data capture bucket."""
    data_kms_key_arn: pulumi.Input[str]
    """ARN of the key encrypting data, artifacts, volumes and images."""
    repository_arn: pulumi.Input[str]
    """ARN of the stack's ECR repository (images jobs and endpoints pull)."""
    preview_role_name: pulumi.Input[str] | None = None
    """Roles.preview_role_name; None when pull-request previews are disabled."""
    vpc_id: pulumi.Input[str] | None = None
    """Network.vpc_id; None when the stack has no VPC (no EC2 permissions at all)."""
    extra_kms_key_arns: Sequence[pulumi.Input[str]] = ()
    """Further keys the SageMaker role uses (e.g. a separate capture key)."""
    extra_pass_roles: Mapping[str, str] = field(default_factory=dict)
    """Further `role name -> service` pairs the deploy role may pass (e.g. EventBridge)."""
    retrain_role_name: pulumi.Input[str] | None = None
    """Roles.retrain_role_name; with retraining_queue_arn and sagemaker_role_arn, gives the
    retraining role its data-plane policy."""
    retraining_queue_arn: pulumi.Input[str] | None = None
    """The retraining queue (Retraining.queue_arn)."""
    sagemaker_role_arn: pulumi.Input[str] | None = None
    """Roles.sagemaker_role_arn: what retraining jobs run as."""
    kubernetes_serving_role_name: pulumi.Input[str] | None = None
    """Roles.kubernetes_serving_role_name; None when the stack has no Kubernetes roles."""
    kubernetes_training_role_name: pulumi.Input[str] | None = None
    """Roles.kubernetes_training_role_name; None when the stack has no Kubernetes roles."""
    backend: PulumiBackend = field(default_factory=PulumiBackend)
    """A self-managed Pulumi backend the CI roles use (cfg.ci.state_bucket, ...)."""
    eks_cluster: str = ""
    """The stack's EKS cluster (cfg.kubernetes.cluster_name) CI connects to; empty: none."""


def _rendered(build: Callable[..., PolicyDocument], **inputs: Any) -> pulumi.Output[str]:
    """`build(**inputs)` as JSON once every input (Outputs, however nested) is known."""
    return pulumi.Output.all(**inputs).apply(lambda values: json.dumps(build(**values)))


class Permissions(pulumi.ComponentResource):
    """Inline least-privilege policies of the stack's roles."""

    sagemaker_policy_name: pulumi.Output[str]
    deploy_policy_arns: pulumi.Output[list[str]]
    preview_policy_name: pulumi.Output[str]
    monitoring_policy_name: pulumi.Output[str]
    retrain_policy_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: PermissionsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:iam:Permissions", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = partition_for(args.region)
        network = args.vpc_id is not None
        account = pulumi.Output.from_input(args.account_id)

        def scope_of(account_id: str) -> Scope:
            return Scope(partition, args.region, account_id, args.prefix)

        scope = account.apply(scope_of)
        sagemaker_doc = _rendered(
            sagemaker_execution_policy,
            scope=scope,
            datasets_bucket_arn=args.datasets_bucket_arn,
            models_bucket_arn=args.models_bucket_arn,
            capture_bucket_arn=args.capture_bucket_arn,
            kms_key_arns=[args.data_kms_key_arn, *args.extra_kms_key_arns],
            repository_arn=args.repository_arn,
            vpc_id=args.vpc_id,
        )
        sagemaker = aws.iam.RolePolicy(
            f"{name}-sagemaker",
            role=args.sagemaker_role_name,
            name="least-privilege",
            policy=sagemaker_doc,
            opts=child,
        )

        def deploy_docs(account_id: str) -> dict[str, str]:
            scope = scope_of(account_id)
            roles = {**default_pass_roles(scope, network), **args.extra_pass_roles}
            docs = deploy_policies(
                scope,
                network=network,
                pass_roles=roles,
                backend=args.backend,
                eks_cluster=args.eks_cluster,
            )
            return {part: json.dumps(doc) for part, doc in docs.items()}

        deploy_documents = account.apply(deploy_docs)

        def document_part(part: str) -> pulumi.Output[str]:
            return deploy_documents.apply(lambda docs: docs[part])

        deploy_arns = []
        for part in DEPLOY_POLICY_PARTS:
            physical = physical_name(args.prefix, f"{DEPLOY_ROLE}-{part}", max_length=128)
            # Customer-managed (not inline): the deploy documents together exceed the
            # inline quota of one role. Named `<prefix>-...` so the role can update them.
            policy = aws.iam.Policy(
                f"{name}-deploy-{part}",
                name=physical,
                description=f"Deploy the {args.prefix} stack: {part}",
                policy=document_part(part),
                tags=merge_tags(args.tags, None, name=physical),
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-deploy-{part}-attachment",
                role=args.deploy_role_name,
                policy_arn=policy.arn,
                opts=child,
            )
            deploy_arns.append(policy.arn)

        if args.preview_role_name is not None:
            preview = aws.iam.RolePolicy(
                f"{name}-preview",
                role=args.preview_role_name,
                name="preview-read-only",
                policy=account.apply(
                    lambda a: json.dumps(
                        preview_policy(
                            scope_of(a),
                            network=network,
                            backend=args.backend,
                            eks_cluster=args.eks_cluster,
                        )
                    )
                ),
                opts=child,
            )
            preview_name: pulumi.Output[str] = preview.name
        else:
            preview_name = pulumi.Output.from_input("")
        monitoring = aws.iam.RolePolicy(
            f"{name}-monitoring",
            role=args.monitoring_role_name,
            name="monitoring-read-only",
            policy=account.apply(lambda a: json.dumps(monitoring_policy(scope_of(a)))),
            opts=child,
        )

        retrain_name: pulumi.Output[str] = pulumi.Output.from_input("")
        if args.retrain_role_name is not None and args.retraining_queue_arn is not None:
            retrain_doc = _rendered(
                retrain_policy,
                scope=scope,
                datasets_bucket_arn=args.datasets_bucket_arn,
                models_bucket_arn=args.models_bucket_arn,
                capture_bucket_arn=args.capture_bucket_arn,
                queue_arn=args.retraining_queue_arn,
                sagemaker_role_arn=args.sagemaker_role_arn,
                repository_arn=args.repository_arn,
                backend=args.backend,
            )
            retrain = aws.iam.RolePolicy(
                f"{name}-retrain",
                role=args.retrain_role_name,
                name="retraining-data-plane",
                policy=retrain_doc,
                opts=child,
            )
            retrain_name = retrain.name

        if args.kubernetes_serving_role_name is not None:
            aws.iam.RolePolicy(
                f"{name}-k8s-serving",
                role=args.kubernetes_serving_role_name,
                name="model-server-pods",
                policy=_rendered(
                    kubernetes_serving_policy,
                    models_bucket_arn=args.models_bucket_arn,
                    capture_bucket_arn=args.capture_bucket_arn,
                    kms_key_arns=[args.data_kms_key_arn],
                ),
                opts=child,
            )
        if args.kubernetes_training_role_name is not None:
            aws.iam.RolePolicy(
                f"{name}-k8s-training",
                role=args.kubernetes_training_role_name,
                name="training-pods",
                policy=_rendered(
                    kubernetes_training_policy,
                    datasets_bucket_arn=args.datasets_bucket_arn,
                    models_bucket_arn=args.models_bucket_arn,
                    kms_key_arns=[args.data_kms_key_arn],
                ),
                opts=child,
            )

        self.sagemaker_policy_name = sagemaker.name
        self.retrain_policy_name = retrain_name
        self.deploy_policy_arns = pulumi.Output.all(*deploy_arns)
        self.preview_policy_name = preview_name
        self.monitoring_policy_name = monitoring.name
        self.register_outputs(
            {
                "sagemaker_policy_name": self.sagemaker_policy_name,
                "deploy_policy_arns": self.deploy_policy_arns,
                "preview_policy_name": self.preview_policy_name,
                "monitoring_policy_name": self.monitoring_policy_name,
                "retrain_policy_name": self.retrain_policy_name,
            }
        )
