"""The stack's S3 buckets: datasets, models, capture (SSE-KMS) and access logs (SSE-S3).

Every bucket is versioned, blocks all public access, disables ACLs (BucketOwnerEnforced),
refuses plain HTTP and TLS below 1.2, and expires old versions and abandoned uploads.
The three data buckets log every request to the logs bucket; the logs bucket does not
log to itself (that would be an endless loop of log records about log records).

The companion resources (versioning, encryption, policy...) are separate resources, as
pulumi-aws v7 expects; each takes `bucket=bucket.id`, so its dependency on the bucket is
explicit in the graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from infra.kms import aws_partition
from infra.naming import bucket_name
from infra.tags import merge_tags

if TYPE_CHECKING:  # the provider's TypedDicts, for annotations only
    from pulumi_aws.s3 import BucketLifecycleConfigurationRuleArgsDict as LifecycleRule
    from pulumi_aws.s3 import (
        BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict as EncryptionDefault,  # noqa: E501
    )

DATA_ROLES: tuple[str, ...] = ("datasets", "models", "capture")
LOGS_ROLE = "logs"
# S3 refuses a transition to STANDARD_IA before an object is 30 days old.
STANDARD_IA_MIN_DAYS = 30
_ALL_S3_ACTIONS = "s3:*"  # only ever in Deny statements: deny everything unsafe


# ---------------------------------------------------------------------------- pure logic


def bucket_arn(name: str, region: str) -> str:
    """A bucket's ARN, known from its name before it exists (S3 ARNs have no region)."""
    partition, _ = aws_partition(region)
    return f"arn:{partition}:s3:::{name}"


def access_log_prefix(role: str) -> str:
    """Where a data bucket's access logs land inside the logs bucket."""
    return f"{role}/"


def bucket_policy(
    arn: str,
    *,
    kms_key_arn: str | None = None,
    account_id: str | None = None,
    access_log_sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Bucket policy: transport rules for every bucket, encryption rules when `kms_key_arn`
    is given, and the S3 log-delivery grant when `access_log_sources` (target prefix ->
    source bucket ARN) is given."""
    objects = f"{arn}/*"
    statements: list[dict[str, Any]] = [
        {
            # Plain HTTP exposes data and credentials-bearing requests on the wire.
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": _ALL_S3_ACTIONS,
            "Resource": [arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            # TLS 1.0/1.1 have known weaknesses; S3 still accepts them unless told not to.
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": _ALL_S3_ACTIONS,
            "Resource": [arn, objects],
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]
    if kms_key_arn is not None:
        statements += _kms_statements(objects, kms_key_arn)
    if access_log_sources:
        if not account_id:
            raise ValueError("access_log_sources needs account_id (the SourceAccount guard)")
        statements.append(_log_delivery_statement(arn, account_id, access_log_sources))
    return {"Version": "2012-10-17", "Statement": statements}


def _kms_statements(objects: str, kms_key_arn: str) -> list[dict[str, Any]]:
    return [
        {
            # Deny an upload that ASKS for another encryption (AES256, aws:kms:dsse...).
            # Both conditions must hold (operators are ANDed): the header is present
            # (Null = false) AND it is not aws:kms. An upload WITHOUT the header is
            # allowed, because the bucket default then encrypts it with SSE-KMS and the
            # stack's key; requiring the header would break every client (and AWS service)
            # that relies on the default, without making any object less encrypted.
            "Sid": "DenyNonKmsEncryptionHeader",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {"s3:x-amz-server-side-encryption": "false"},
                "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
            },
        },
        {
            # Same pattern for the key: an upload naming a key must name the stack's key
            # by ARN (a key id or alias in the header is refused too). Without this an
            # object could be encrypted under a key the stack does not control.
            "Sid": "DenyOtherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn},
            },
        },
        {
            # SSE-C sends no x-amz-server-side-encryption header, so the rules above miss
            # it; its keys live with the client, outside the stack's control and audit.
            "Sid": "DenyCustomerProvidedKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        },
    ]


def _log_delivery_statement(
    arn: str, account_id: str, sources: Mapping[str, str]
) -> dict[str, Any]:
    # The modern replacement for the log-delivery group ACL (ACLs are disabled by
    # BucketOwnerEnforced): the S3 logging service may write, only under the sources'
    # prefixes, and only for the named source buckets of this account.
    return {
        "Sid": "AllowS3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": [f"{arn}/{prefix}*" for prefix in sorted(sources)],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": sorted(set(sources.values()))},
        },
    }


def lifecycle_rules(
    *,
    noncurrent_version_days: int,
    abort_incomplete_upload_days: int,
    transition_days: int = 0,
    expiration_days: int | None = None,
) -> list[LifecycleRule]:
    """One whole-bucket lifecycle rule (as `BucketLifecycleConfigurationRuleArgsDict`s).

    Always: noncurrent versions expire, incomplete multipart uploads are aborted.
    `transition_days` > 0 moves current objects to STANDARD_IA; `expiration_days` expires
    them. Without an expiration, expired delete markers are removed instead (S3 forbids
    both in one rule), so deleted keys leave nothing behind once their versions are gone.
    """
    if noncurrent_version_days < 1 or abort_incomplete_upload_days < 1:
        raise ValueError("noncurrent_version_days and abort_incomplete_upload_days must be >= 1")
    if expiration_days is not None and expiration_days < 1:
        raise ValueError(f"expiration_days must be >= 1, got {expiration_days}")
    if transition_days < 0:
        raise ValueError(f"transition_days must be >= 0 (0: no transition), got {transition_days}")
    if 0 < transition_days < STANDARD_IA_MIN_DAYS:
        raise ValueError(
            f"transition to STANDARD_IA after {transition_days} days: S3 requires at least "
            f"{STANDARD_IA_MIN_DAYS}; use 0 to disable the transition"
        )
    if transition_days and expiration_days is not None and expiration_days <= transition_days:
        raise ValueError(
            f"objects would expire (day {expiration_days}) before or when they move to "
            f"STANDARD_IA (day {transition_days}); expire later or set the transition to 0"
        )
    rule: LifecycleRule = {
        "id": "retention",
        "status": "Enabled",
        "filter": {},  # empty filter: the whole bucket
        "noncurrent_version_expiration": {"noncurrent_days": noncurrent_version_days},
        "abort_incomplete_multipart_upload": {
            "days_after_initiation": abort_incomplete_upload_days
        },
    }
    if transition_days:
        rule["transitions"] = [{"days": transition_days, "storage_class": "STANDARD_IA"}]
    if expiration_days is not None:
        rule["expiration"] = {"days": expiration_days}
    else:
        rule["expiration"] = {"expired_object_delete_marker": True}
    return [rule]


def _encrypted_bucket_policy(arn: str, kms_key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The JSON policy of a data bucket, once the key ARN is known."""
    return pulumi.Output.from_input(kms_key_arn).apply(
        lambda key: json.dumps(bucket_policy(arn, kms_key_arn=key))
    )


# ---------------------------------------------------------------------------- component


@dataclass(frozen=True)
class StorageArgs:
    prefix: str
    """Start of every physical name (cfg.name_prefix)."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) applied to every bucket."""
    account_id: str
    """AWS account id: part of the bucket names and the log-delivery guard."""
    region: str
    """AWS region: part of the bucket names (S3 names are global)."""
    kms_key_arn: pulumi.Input[str]
    """ARN of the data key (Keys.data_key_arn) encrypting the data buckets."""
    noncurrent_version_days: int = 90
    """Days before noncurrent object versions expire (every bucket)."""
    abort_incomplete_upload_days: int = 7
    """Days before incomplete multipart uploads are aborted (every bucket)."""
    capture_transition_days: int = 30
    """Days before capture data moves to STANDARD_IA (0: never; else >= 30)."""
    capture_expiration_days: int = 365
    """Days before endpoint capture data expires."""
    access_log_expiration_days: int = 365
    """Days before S3 access logs expire."""
    object_lock: bool = False
    """Object lock (GOVERNANCE default retention) on the models bucket."""
    object_lock_days: int = 365
    """Default retention of locked model artifacts, in days."""

    def __post_init__(self) -> None:
        if self.object_lock_days < 1:
            raise ValueError(f"object_lock_days must be >= 1, got {self.object_lock_days}")


@dataclass(frozen=True)
class _Bucket:
    """A bucket and the companions that later resources must wait for."""

    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    policy: aws.s3.BucketPolicy


class Storage(pulumi.ComponentResource):
    """Four private, versioned, encrypted buckets with retention rules and access logs."""

    datasets_bucket: pulumi.Output[str]
    datasets_bucket_arn: pulumi.Output[str]
    models_bucket: pulumi.Output[str]
    models_bucket_arn: pulumi.Output[str]
    capture_bucket: pulumi.Output[str]
    capture_bucket_arn: pulumi.Output[str]
    logs_bucket: pulumi.Output[str]
    logs_bucket_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:storage:Storage", name, None, opts)
        self._base_name = name
        self._args = args
        names = {
            role: bucket_name(args.prefix, role, args.account_id, args.region)
            for role in (*DATA_ROLES, LOGS_ROLE)
        }
        # Rules are built (and validated) before any resource is declared.
        rules = self._rules()

        # Policies are built from names, so they are known at preview (the policy pack
        # can check them then); the key ARN is the one value that may be unknown.
        logs_policy = bucket_policy(
            bucket_arn(names[LOGS_ROLE], args.region),
            account_id=args.account_id,
            access_log_sources={
                access_log_prefix(role): bucket_arn(names[role], args.region) for role in DATA_ROLES
            },
        )
        # S3 server access logging delivers only to buckets encrypted with SSE-S3
        # (AES256); an SSE-KMS target silently receives nothing. So the logs bucket uses
        # AES256: access logs hold request metadata, not data.
        logs = self._bucket(
            LOGS_ROLE, names[LOGS_ROLE], {"sse_algorithm": "AES256"}, json.dumps(logs_policy)
        )
        self._lifecycle(LOGS_ROLE, logs, rules[LOGS_ROLE])

        kms_encryption: EncryptionDefault = {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": args.kms_key_arn,
        }
        data: dict[str, _Bucket] = {}
        for role in DATA_ROLES:
            policy = _encrypted_bucket_policy(
                bucket_arn(names[role], args.region), args.kms_key_arn
            )
            lock = args.object_lock and role == "models"
            data[role] = self._bucket(role, names[role], kms_encryption, policy, lock=lock)
            self._lifecycle(role, data[role], rules[role])
            self._access_logging(role, data[role], logs)
            if lock:
                self._object_lock(role, data[role])

        self.datasets_bucket = data["datasets"].bucket.bucket
        self.datasets_bucket_arn = data["datasets"].bucket.arn
        self.models_bucket = data["models"].bucket.bucket
        self.models_bucket_arn = data["models"].bucket.arn
        self.capture_bucket = data["capture"].bucket.bucket
        self.capture_bucket_arn = data["capture"].bucket.arn
        self.logs_bucket = logs.bucket.bucket
        self.logs_bucket_arn = logs.bucket.arn
        self.register_outputs(
            {
                "datasets_bucket": self.datasets_bucket,
                "datasets_bucket_arn": self.datasets_bucket_arn,
                "models_bucket": self.models_bucket,
                "models_bucket_arn": self.models_bucket_arn,
                "capture_bucket": self.capture_bucket,
                "capture_bucket_arn": self.capture_bucket_arn,
                "logs_bucket": self.logs_bucket,
                "logs_bucket_arn": self.logs_bucket_arn,
            }
        )

    def _rules(self) -> dict[str, list[LifecycleRule]]:
        a = self._args
        common = {
            "noncurrent_version_days": a.noncurrent_version_days,
            "abort_incomplete_upload_days": a.abort_incomplete_upload_days,
        }
        return {
            "datasets": lifecycle_rules(**common),
            "models": lifecycle_rules(**common),
            "capture": lifecycle_rules(
                **common,
                transition_days=a.capture_transition_days,
                expiration_days=a.capture_expiration_days,
            ),
            LOGS_ROLE: lifecycle_rules(**common, expiration_days=a.access_log_expiration_days),
        }

    def _opts(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on)

    def _bucket(
        self,
        role: str,
        physical: str,
        encryption: EncryptionDefault,
        policy: pulumi.Input[str],
        *,
        lock: bool = False,
    ) -> _Bucket:
        prefix = f"{self._base_name}-{role}"
        bucket = aws.s3.Bucket(
            prefix,
            bucket=physical,
            # Never force_destroy: deleting the stack must not silently delete data; a
            # non-empty bucket makes `pulumi destroy` stop and ask for a decision.
            force_destroy=False,
            # Object lock can only be switched on when the bucket is created.
            object_lock_enabled=True if lock else None,
            tags=merge_tags(self._args.tags, {"bucket-role": role}, name=physical),
            opts=self._opts(),
        )
        versioning = aws.s3.BucketVersioning(
            f"{prefix}-versioning",
            bucket=bucket.id,
            # Versions make overwrites and deletes recoverable (and are required for
            # object lock); lifecycle rules bound what old versions cost.
            versioning_configuration={"status": "Enabled"},
            opts=self._opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{prefix}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": encryption,
                    # Bucket keys cut KMS requests (cost, throttling) by ~99%; ignored
                    # for AES256.
                    "bucket_key_enabled": encryption["sse_algorithm"] == "aws:kms",
                }
            ],
            opts=self._opts(),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{prefix}-public-access",
            bucket=bucket.id,
            # All four: no public ACL can be set or honoured, no public policy can be set
            # or honoured; nothing in an ML stack is meant for anonymous readers.
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._opts(),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{prefix}-ownership",
            bucket=bucket.id,
            # ACLs off: the bucket owns every object and only policies grant access.
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self._opts(),
        )
        bucket_policy_resource = aws.s3.BucketPolicy(
            f"{prefix}-policy",
            bucket=bucket.id,
            policy=policy,
            # After ownership controls and the public access block: S3 serialises bucket
            # configuration changes (parallel writes fail with OperationAborted), and the
            # policy must be judged against the final public-access settings.
            opts=self._opts(depends_on=[ownership, public_access]),
        )
        return _Bucket(bucket, versioning, bucket_policy_resource)

    def _lifecycle(self, role: str, bucket: _Bucket, rules: list[LifecycleRule]) -> None:
        aws.s3.BucketLifecycleConfiguration(
            f"{self._base_name}-{role}-lifecycle",
            bucket=bucket.bucket.id,
            rules=rules,
            # Noncurrent-version rules only mean something once versioning is on.
            opts=self._opts(depends_on=[bucket.versioning]),
        )

    def _access_logging(self, role: str, bucket: _Bucket, logs: _Bucket) -> None:
        aws.s3.BucketLogging(
            f"{self._base_name}-{role}-logging",
            bucket=bucket.bucket.id,
            target_bucket=logs.bucket.id,
            target_prefix=access_log_prefix(role),
            # The logs bucket's policy grants the delivery; without it logs are dropped.
            opts=self._opts(depends_on=[logs.policy]),
        )

    def _object_lock(self, role: str, bucket: _Bucket) -> None:
        aws.s3.BucketObjectLockConfiguration(
            f"{self._base_name}-{role}-object-lock",
            bucket=bucket.bucket.id,
            object_lock_enabled="Enabled",
            # GOVERNANCE, not COMPLIANCE: artifacts are protected from ordinary deletes
            # and overwrites for the audit period, yet a principal with
            # s3:BypassGovernanceRetention can still remove a model that must go
            # (e.g. one trained on data later withdrawn). COMPLIANCE could never be undone.
            rule={"default_retention": {"mode": "GOVERNANCE", "days": self._args.object_lock_days}},
            opts=self._opts(depends_on=[bucket.versioning]),
        )
