"""The permissions boundary every role of a stack carries: the ceiling on what any of them
can ever do, whatever policies they are given later.

Why: the CI deploy role manages the stack's roles and their policies. Without a ceiling a
compromised deploy run could grant itself, or a role it can run code as (SageMaker's),
anything. With the boundary a role's effective permissions are its policies intersected
with the boundary, and the boundary keeps three things to an administrator:

- identities: creating or deleting roles, changing any trust policy, the OIDC provider,
  and the CI roles' own permissions (their policies, tags and boundary);
- the boundary itself, and removing a role's boundary;
- keys: creating them, their key policies, deletion, and grants to anything but AWS
  services.

It also denies what would destroy the audit trail (object versions, retention, legal
holds) or reach outside the stack (instances, sharing snapshots and images).

So CI cannot change these; like the OIDC provider and the roles, they are created and
changed by the administrator's bootstrap `pulumi up` (README, "Set it up").

What it allows is the stack's own resources by name (S3, IAM, SageMaker, ECR, SQS, SNS,
EventBridge, CloudWatch, Logs), its keys by their Name tag, and, in the stack's region
only, EC2 and Application Auto Scaling (their ids are generated) and the calls AWS
authorises on "*" only; the self-managed Pulumi backend (this stack's state only) and the
EKS cluster by name. Workload roles (jobs, endpoints, pods, flow logs, monitoring) get
their data-plane services only, and never the backend: the deploy role may change their
policies, so this is what caps what it could run code as. The roles' own policies
(`infra.permissions`) stay the precise grant; this document must only never be narrower
than they are, which a test checks statement by statement, role by role.

It must fit IAM's 6,144-character quota for one policy, with every name it carries: the
config refuses names that would make it outgrow it.
"""

from __future__ import annotations

from typing import Final

from infra.backend import PulumiBackend, backend_ceiling
from infra.naming import (
    DEPLOY_ROLE,
    MONITORING_ROLE,
    PREVIEW_ROLE,
    RETRAIN_ROLE,
    physical_name,
    role_name,
)
from infra.policy_document import PolicyDocument, statement

BOUNDARY_POLICY: Final = "role-boundary"
# Roles CI authenticates as (all named `<prefix>-ci-*`), and the humans' read-only role:
# their permissions and trust are the administrator's (see the module docstring).
CI_ROLES: Final = (DEPLOY_ROLE, PREVIEW_ROLE, RETRAIN_ROLE, MONITORING_ROLE)
# Every role but CI's is a workload's (jobs, endpoints, pods, flow logs; the monitoring
# role reads metrics and logs): these services are all their policies use, and
# everything else is denied to them.
WORKLOAD_SERVICES: Final = ("s3", "kms", "ecr", "logs", "cloudwatch", "ec2")
NAMED_SERVICES: Final = (
    "s3",
    "iam",
    "sagemaker",
    "ecr",
    "sqs",
    "sns",
    "events",
    "cloudwatch",
    "logs",
    "kms",
)
# Actions whose condition key `iam:PermissionsBoundary` is the boundary of the role acted
# on (or, for CreateRole and PutRolePermissionsBoundary, the one requested).
BOUNDED_ROLE_ACTIONS: Final = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
)
# What would change a managed policy's document, or remove it.
POLICY_CHANGES: Final = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)
# Kept to an administrator for every role (see the module docstring).
IDENTITY_CHANGES: Final = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRolePermissionsBoundary",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:DeleteServiceLinkedRole",
)
CI_ROLE_CHANGES: Final = (
    "iam:AttachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateRole",
)
KEY_CHANGES: Final = (
    "kms:CreateKey",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:ReplicateKey",
)
HISTORY_AND_REACH: Final = (
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "ec2:RunInstances",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
)
# Calls AWS authorises on "*" only (the Service Authorization Reference gives them no
# resource type) that the stack's roles make; ec2:Describe* covers the VPC reads.
STAR_ONLY: Final = (
    "cloudwatch:DescribeAlarmsForMetric",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "cloudwatch:PutMetricData",
    "ec2:Describe*",
    "ecr:GetAuthorizationToken",
    "kms:ListAliases",
    "logs:DescribeLogGroups",
    "logs:StopQuery",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
)


def boundary_policy_name(prefix: str) -> str:
    return physical_name(prefix, BOUNDARY_POLICY, max_length=128)


def boundary_arn(partition: str, account_id: str, prefix: str) -> str:
    """Fixed by the name, so the deploy policies can name it before it exists."""
    return f"arn:{partition}:iam::{account_id}:policy/{boundary_policy_name(prefix)}"


def boundary_policy(
    partition: str,
    region: str,
    account_id: str,
    prefix: str,
    backend: PulumiBackend | None = None,
    *,
    eks_cluster: str = "",
) -> PolicyDocument:
    """The boundary document. Whole-service actions are right here, and only here: a
    boundary grants nothing by itself, it caps what the roles' policies grant. A
    self-managed Pulumi backend (`backend`) lies outside the stack's names: it is let in
    by name."""
    iam = f"arn:{partition}:iam::{account_id}"

    def regional(service: str, resource: str) -> str:
        return f"arn:{partition}:{service}:{region}:{account_id}:{resource}"

    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    stack_tagged = {"StringLike": {"aws:ResourceTag/Name": f"{prefix}-*"}}
    ci_only = f"{iam}:role/{prefix}-ci-*"
    ci_roles = [ci_only, f"{iam}:role/{role_name(prefix, MONITORING_ROLE)}"]
    ci_policies = [f"{iam}:policy/{physical_name(prefix, DEPLOY_ROLE, max_length=128)}-*"]
    boundary = boundary_arn(partition, account_id, prefix)
    # One statement for every name-scoped service: an action only ever matches ARNs of
    # its own service, so listing them together grants nothing more (and keeps the
    # document under the 6,144-character quota for the longest prefix).
    allow = [
        statement(
            "StackByName",
            "Allow",
            [f"{service}:*" for service in NAMED_SERVICES],
            [
                f"arn:{partition}:s3:::{prefix}-*",
                f"arn:{partition}:s3:::{prefix}-*/*",
                f"{iam}:role/{prefix}-*",
                f"{iam}:policy/{prefix}-*",
                f"{iam}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/*",
                # Read: every change to the provider is an identity change, denied below.
                f"{iam}:oidc-provider/token.actions.githubusercontent.com",
                regional("sagemaker", f"*/{prefix}-*"),
                regional("ecr", f"repository/{prefix}-*"),
                regional("sqs", f"{prefix}-*"),
                regional("sns", f"{prefix}-*"),
                regional("events", f"rule/{prefix}-*"),
                regional("cloudwatch", f"alarm:{prefix}-*"),
                regional("cloudwatch", f"alarm:TargetTracking-endpoint/{prefix}-*"),
                f"arn:{partition}:cloudwatch::{account_id}:dashboard/{prefix}-*",
                regional("logs", f"log-group:/mlops/{prefix}/*"),
                # SageMaker's own log groups, which no stack can rename.
                regional("logs", "log-group:/aws/sagemaker/*"),
                regional("kms", f"alias/{prefix}-*"),
            ],
        ),
        statement("StackKeys", "Allow", "kms:*", regional("kms", "key/*"), stack_tagged),
        statement(
            # EC2 and scalable-target ids are generated: the region is the scope, and the
            # denies below take out what would reach beyond the stack.
            "StackRegion",
            "Allow",
            ["ec2:*", "application-autoscaling:*", *STAR_ONLY],
            "*",
            in_region,
        ),
        # Only the CI roles reach the Pulumi backend.
        *backend_ceiling(backend or PulumiBackend(partition), {"aws:PrincipalArn": ci_only}),
    ]
    if eks_cluster:
        # CI connects to the stack's cluster (aws eks update-kubeconfig); the cluster's
        # own access entries decide what it may do inside.
        allow.append(
            statement(
                "StackCluster",
                "Allow",
                "eks:DescribeCluster",
                regional("eks", f"cluster/{eks_cluster}"),
            )
        )
    deny = [
        statement(
            "AdministratorsOnly",
            "Deny",
            [*IDENTITY_CHANGES, *KEY_CHANGES, *HISTORY_AND_REACH],
            "*",
        ),
        statement("CiRolesFixed", "Deny", list(CI_ROLE_CHANGES), ci_roles),
        statement("FixedPolicies", "Deny", list(POLICY_CHANGES), [boundary, *ci_policies]),
        statement(
            "BoundedRolesOnly",
            "Deny",
            list(BOUNDED_ROLE_ACTIONS),
            "*",
            {"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        ),
        statement(
            "GrantsToAwsOnly",
            "Deny",
            "kms:CreateGrant",
            "*",
            {"Bool": {"kms:GrantIsForAWSResource": "false"}},
        ),
        # The roles jobs, endpoints and pods run as get their data plane and no more, so
        # widening one (the deploy role may change their policies) reaches no identity,
        # queue, topic, rule or Pulumi state.
        statement(
            "WorkloadsDataOnly",
            "Deny",
            [f"{service}:*" for service in WORKLOAD_SERVICES],
            "*",
            {"ArnNotLike": {"aws:PrincipalArn": ci_only}},
            not_action=True,
        ),
    ]
    return {"Version": "2012-10-17", "Statement": [*allow, *deny]}
