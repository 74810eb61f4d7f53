"""Customer-managed KMS keys: one for data, one for logs and messaging.

Two keys, not one, because their key policies differ in kind: the DATA key (buckets,
SageMaker volumes and outputs, ECR) is used only by named IAM roles, while the LOGS key
(CloudWatch Logs, SNS, SQS) must also admit AWS service principals. Keeping service
principals off the data key means no service can be tricked into decrypting model or
training data on someone else's behalf.

Key policies NAME who may do what:
- the account root may ADMINISTER the key (never use it): the key can never become
  unmanageable, and IAM policies in the account can delegate administration to operators;
- the roles in `user_role_arns` may USE it (encrypt, decrypt, data keys, grants for AWS
  resources). Because the key policy names them directly, those roles need no KMS
  statement in their IAM policies; and because root gets no usage rights, no IAM policy
  can widen usage beyond the named roles.

KMS rejects a key policy naming a principal that does not exist yet, so pass the roles'
`arn` Outputs (not ARNs rebuilt from names): the key then waits for the roles.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.naming import physical_name
from infra.tags import merge_tags

# Administration only: enough to describe, re-policy, rotate, tag, disable and schedule
# deletion, so the account can always recover the key; no Encrypt/Decrypt/GenerateDataKey.
# "kms:CreateAlias" rather than AWS's usual "kms:Create*": on an existing key Create*
# also means kms:CreateGrant, and a grant is a quiet way to hand oneself Decrypt. Changing
# who may use the key goes through PutKeyPolicy instead, which is visible as policy drift.
ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
USAGE_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
# What a service needs to write to / read from a resource encrypted with the key
# (SNS publishing to an encrypted queue, alarms and EventBridge publishing to a topic).
SERVICE_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey*")
# Services that encrypt messages with the logs key on the account's behalf.
MESSAGING_SERVICES: tuple[str, ...] = (
    "sns.amazonaws.com",
    "sqs.amazonaws.com",
    "events.amazonaws.com",
    # Alarms publishing to an encrypted SNS topic act as this principal.
    "cloudwatch.amazonaws.com",
)
DELETION_WINDOW_DAYS = 30  # the maximum: a month to notice and cancel an unwanted deletion
# In a key policy, "Resource": "*" means "this key" (a key policy cannot name other keys).
THIS_KEY = "*"

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")


def aws_partition(region: str) -> tuple[str, str]:
    """The ARN partition and DNS suffix of a region (China and GovCloud differ)."""
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


def alias_name(prefix: str, purpose: str) -> str:
    """`alias/<prefix>-<purpose>` (aliases allow 256 characters)."""
    return f"alias/{physical_name(prefix, purpose, max_length=250)}"


def log_group_arn_patterns(*, account_id: str, region: str, prefix: str) -> list[str]:
    """ARN patterns of the stack's log groups: names starting with the prefix, or with a
    path segment starting with it (`/mlops/<prefix>/pipeline`, VPC flow logs at
    `/mlops/<prefix>/vpc-flow-logs`, SageMaker's `/aws/sagemaker/Endpoints/<prefix>-...`)."""
    partition, _ = aws_partition(region)
    base = f"arn:{partition}:logs:{region}:{account_id}:log-group:"
    return [f"{base}{prefix}*", f"{base}*/{prefix}*"]


def _role_principals(user_role_arns: Sequence[str]) -> list[str]:
    """Sorted, de-duplicated role ARNs; anything but an IAM role ARN is refused so that a
    wildcard, an account root or a user can never slip in as a key user."""
    bad = [arn for arn in user_role_arns if not _ROLE_ARN.fullmatch(arn)]
    if bad:
        raise ValueError(
            f"key users must be IAM role ARNs (arn:aws:iam::<account>:role/<name>); got {bad}"
        )
    return sorted(set(user_role_arns))


def _base_statements(
    account_id: str, region: str, user_role_arns: Sequence[str]
) -> list[dict[str, Any]]:
    partition, _ = aws_partition(region)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": list(ADMIN_ACTIONS),
            "Resource": THIS_KEY,
        }
    ]
    roles = _role_principals(user_role_arns)
    if roles:  # an empty principal list is invalid; without roles only admins remain
        statements += [
            {
                "Sid": "NamedRolesUseKey",
                "Effect": "Allow",
                "Principal": {"AWS": roles},
                "Action": list(USAGE_ACTIONS),
                "Resource": THIS_KEY,
            },
            {
                # Grants let SageMaker, EBS and ECR use the key for the resources the
                # roles create, and nothing else: no grants to arbitrary principals.
                "Sid": "NamedRolesGrantToAwsResources",
                "Effect": "Allow",
                "Principal": {"AWS": roles},
                "Action": ["kms:CreateGrant"],
                "Resource": THIS_KEY,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
    return statements


def data_key_policy(
    *, account_id: str, region: str, user_role_arns: Sequence[str]
) -> dict[str, Any]:
    """Key policy of the data key: account administers, the named roles use it, and
    principals of the account may use it only through S3 in the stack's region.

    The last statement is what lets people and CI jobs whose IAM policies allow them the
    stack's buckets read and write encrypted objects (`mlops data push`, monitoring): KMS
    then defers to IAM, but only for calls S3 makes on their behalf, never directly.
    """
    partition, dns = aws_partition(region)
    through_s3 = {
        "Sid": "AccountPrincipalsThroughS3",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        ],
        "Resource": "*",  # in a key policy "*" means this key
        "Condition": {
            "StringEquals": {
                "kms:ViaService": f"s3.{region}.{dns}",
                "kms:CallerAccount": account_id,
            }
        },
    }
    return {
        "Version": "2012-10-17",
        "Statement": [*_base_statements(account_id, region, user_role_arns), through_s3],
    }


def logs_key_policy(
    *, account_id: str, region: str, prefix: str, user_role_arns: Sequence[str]
) -> dict[str, Any]:
    """Key policy of the logs key: as the data key, plus CloudWatch Logs for the stack's
    log groups and the messaging services, each pinned to this account."""
    _, dns_suffix = aws_partition(region)
    statements = _base_statements(account_id, region, user_role_arns)
    statements.append(
        {
            "Sid": "CloudWatchLogsForStackLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.{dns_suffix}"},
            "Action": list(USAGE_ACTIONS),
            "Resource": THIS_KEY,
            # Only log groups of this stack, in this account and region, get the key.
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": log_group_arn_patterns(
                        account_id=account_id, region=region, prefix=prefix
                    )
                }
            },
        }
    )
    statements.append(
        {
            "Sid": "MessagingServicesInAccount",
            "Effect": "Allow",
            "Principal": {"Service": list(MESSAGING_SERVICES)},
            "Action": list(SERVICE_ACTIONS),
            "Resource": THIS_KEY,
            # Confused-deputy guard: the service acts for a resource of this account only.
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class KeysArgs:
    prefix: str
    """Start of every physical name (cfg.name_prefix)."""
    account_id: str
    """AWS account id the keys live in (names the root administrator)."""
    region: str
    """AWS region of the keys (scopes the CloudWatch Logs service principal)."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) applied to both keys."""
    user_role_arns: Sequence[pulumi.Input[str]]
    """ARNs of the roles allowed to use both keys (SageMaker execution, deploy): Outputs."""


class Keys(pulumi.ComponentResource):
    """The stack's customer-managed keys, rotated yearly, with policies naming their users."""

    data_key_arn: pulumi.Output[str]
    data_key_id: pulumi.Output[str]
    data_key_alias: pulumi.Output[str]
    logs_key_arn: pulumi.Output[str]
    logs_key_id: pulumi.Output[str]
    logs_key_alias: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:kms:Keys", name, None, opts)
        roles = pulumi.Output.all(*args.user_role_arns)

        data_policy = roles.apply(
            lambda arns: json.dumps(
                data_key_policy(account_id=args.account_id, region=args.region, user_role_arns=arns)
            )
        )
        data, data_alias = self._key(
            name,
            args,
            "data",
            "Data, model artifacts, capture, SageMaker volumes and outputs, ECR images",
            data_policy,
        )

        logs_policy = roles.apply(
            lambda arns: json.dumps(
                logs_key_policy(
                    account_id=args.account_id,
                    region=args.region,
                    prefix=args.prefix,
                    user_role_arns=arns,
                )
            )
        )
        logs, logs_alias = self._key(
            name, args, "logs", "CloudWatch Logs, SNS topics and SQS queues", logs_policy
        )

        self.data_key_arn = data.arn
        self.data_key_id = data.key_id
        self.data_key_alias = data_alias.name
        self.logs_key_arn = logs.arn
        self.logs_key_id = logs.key_id
        self.logs_key_alias = logs_alias.name
        self.register_outputs(
            {
                "data_key_arn": self.data_key_arn,
                "data_key_id": self.data_key_id,
                "data_key_alias": self.data_key_alias,
                "logs_key_arn": self.logs_key_arn,
                "logs_key_id": self.logs_key_id,
                "logs_key_alias": self.logs_key_alias,
            }
        )

    def _key(
        self,
        name: str,
        args: KeysArgs,
        purpose: str,
        description: str,
        policy: pulumi.Input[str],
    ) -> tuple[aws.kms.Key, aws.kms.Alias]:
        child = pulumi.ResourceOptions(parent=self)
        physical = physical_name(args.prefix, f"{purpose}-key")
        key = aws.kms.Key(
            f"{name}-{purpose}",
            description=f"{args.prefix} {purpose} key: {description}",
            # Symmetric ENCRYPT_DECRYPT (the defaults) is what S3, SageMaker, ECR, Logs,
            # SNS and SQS accept.
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            # Yearly automatic rotation (the default period): limits what one key version
            # protects; old versions stay for decryption, so nothing needs re-encrypting.
            enable_key_rotation=True,
            # Longest window: a mistaken deletion can be cancelled for 30 days.
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            # Single-region: a multi-region key would copy key material out of the region.
            multi_region=False,
            policy=policy,
            # Never bypass the lockout check: KMS verifies the caller keeps administration.
            bypass_policy_lockout_safety_check=False,
            tags=merge_tags(args.tags, {"key-purpose": purpose}, name=physical),
            opts=child,
        )
        alias = aws.kms.Alias(
            f"{name}-{purpose}-alias",
            name=alias_name(args.prefix, purpose),
            target_key_id=key.key_id,
            opts=child,
        )
        return key, alias
