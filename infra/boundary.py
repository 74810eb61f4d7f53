"""The permissions boundary every role of a stack carries: the ceiling on what any of them
can ever do, whatever policies they are given later.

Why: the CI deploy role must manage the stack's roles and policies, which includes its
own. Without a ceiling it could grant itself anything (`iam:PutRolePolicy` on itself).
With the boundary, a role's effective permissions are its policies intersected with the
boundary, and the boundary itself denies the three ways out: changing the boundary
policy, removing a role's boundary, and creating or changing a role without it.

So CI cannot change this policy; like the OIDC provider and the roles, it is created
(and changed) by the administrator's bootstrap `pulumi up` (README, "Set it up").

The ceiling is coarse on purpose, and still much narrower than an account: S3 and IAM
only on the stack's own names, the regional services the stack uses only in its region,
nothing else at all. The roles' own policies (`infra.permissions`) stay the precise
grant; this document must only never be narrower than they are, which a test checks
statement by statement.
"""

from __future__ import annotations

from typing import Any, Final

from infra.backend import PulumiBackend, backend_statements
from infra.naming import physical_name

BOUNDARY_POLICY: Final = "role-boundary"
# Services the stack's roles use in the stack's region.
REGIONAL_SERVICES: Final = (
    "application-autoscaling",
    "cloudwatch",
    "ec2",
    "ecr",
    "events",
    "kms",
    "logs",
    "sagemaker",
    "sns",
    "sqs",
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
# What would change the ceiling itself.
BOUNDARY_CHANGES: Final = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)

PolicyDocument = dict[str, Any]


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
) -> PolicyDocument:
    """The boundary document. Whole-service actions are right here, and only here: a
    boundary grants nothing by itself, it caps what the roles' policies grant. A
    self-managed Pulumi backend (`backend`) lies outside the stack's names: it is let in
    by name."""
    iam = f"arn:{partition}:iam::{account_id}"
    boundary = boundary_arn(partition, account_id, prefix)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "StackBuckets",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [f"arn:{partition}:s3:::{prefix}-*", f"arn:{partition}:s3:::{prefix}-*/*"],
        },
        {
            "Sid": "StackIdentities",
            "Effect": "Allow",
            "Action": "iam:*",
            "Resource": [
                f"{iam}:role/{prefix}-*",
                f"{iam}:policy/{prefix}-*",
                f"{iam}:oidc-provider/token.actions.githubusercontent.com",
                f"{iam}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/*",
            ],
        },
        {
            # Services without stack-scoped ARNs everywhere (generated ids, account-wide
            # Describe/List calls): capped to the stack's region instead.
            "Sid": "StackRegionServices",
            "Effect": "Allow",
            "Action": [f"{service}:*" for service in REGIONAL_SERVICES],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "CallerIdentity",
            "Effect": "Allow",
            "Action": "sts:GetCallerIdentity",
            "Resource": "*",
        },
        *backend_statements(backend or PulumiBackend(partition), write=True),
        {
            "Sid": "BoundaryIsFixed",
            "Effect": "Deny",
            "Action": list(BOUNDARY_CHANGES),
            "Resource": boundary,
        },
        {
            "Sid": "BoundaryStays",
            "Effect": "Deny",
            "Action": "iam:DeleteRolePermissionsBoundary",
            "Resource": "*",
        },
        {
            "Sid": "RolesCarryTheBoundary",
            "Effect": "Deny",
            "Action": list(BOUNDED_ROLE_ACTIONS),
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}
