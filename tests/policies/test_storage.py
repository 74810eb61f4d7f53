"""S3 policies: failing and passing cases; companions matched by value and by dependency."""

from __future__ import annotations

import json

import pytest

from policies.offline import UNKNOWN, evaluate, resource

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
TAGS = {"owner": "ml-team", "cost-center": "cc-42"}


def _drop(resources, suffix):
    return [r for r in resources if not r["name"].endswith(f"-{suffix}")]


def _replace(resources, suffix, **inputs):
    return [
        {**r, "inputs": {**r["inputs"], **inputs}} if r["name"].endswith(f"-{suffix}") else r
        for r in resources
    ]


# --- s3-bucket-versioned --------------------------------------------------------------


@pytest.mark.parametrize("by_dependency", [False, True])
def test_versioned_passes_with_companion(assert_passes, compliant_bucket, by_dependency):
    assert_passes("s3-bucket-versioned", compliant_bucket(by_dependency=by_dependency))


def test_versioned_fails_without_companion(assert_violation, compliant_bucket):
    found = assert_violation(
        "s3-bucket-versioned", compliant_bucket(skip=["versioning"]), "has no versioning"
    )
    assert "S3 bucket 'data'" in found[0].message
    assert "BucketVersioning(" in found[0].message  # says how to fix


def test_versioned_fails_when_suspended(assert_violation, compliant_bucket):
    stack = _replace(
        compliant_bucket(by_dependency=True),
        "versioning",
        versioningConfiguration={"status": "Suspended"},
    )
    found = assert_violation("s3-bucket-versioned", stack, "sets versioning status 'Suspended'")
    assert found[0].urn.endswith("::data-versioning")  # reported on the companion to fix


def test_versioned_companion_of_another_bucket_does_not_count(assert_violation, compliant_bucket):
    versioned = compliant_bucket("a", by_dependency=True)
    other = compliant_bucket("b", by_dependency=True, skip=["versioning"])
    found = assert_violation("s3-bucket-versioned", versioned + other, "has no versioning")
    assert [v.urn.rsplit("::", 1)[-1] for v in found] == ["b"]


def test_versioned_accepts_legacy_inline_and_v2_tokens(assert_passes, compliant_bucket):
    inline = resource(BUCKET, "legacy", {"bucket": "legacy", "versioning": {"enabled": True}})
    v2 = resource(BUCKET_V2, "v2", {"bucket": "v2"})
    v2_versioning = resource(
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
        "v2-versioning",
        {"bucket": "v2", "versioningConfiguration": {"status": "Enabled"}},
    )
    assert_passes("s3-bucket-versioned", [inline, v2, v2_versioning])


def test_versioned_fails_legacy_v2_inline_disabled(assert_violation):
    bucket = resource(BUCKET_V2, "old", {"bucket": "old", "versionings": [{"enabled": False}]})
    assert_violation("s3-bucket-versioned", [bucket], "S3 bucket 'old' has no versioning")


def test_versioned_unknown_status_is_not_a_violation(assert_passes, compliant_bucket):
    stack = _replace(
        compliant_bucket(by_dependency=True), "versioning", versioningConfiguration=UNKNOWN
    )
    assert_passes("s3-bucket-versioned", stack)


def test_versioned_unknown_inline_output_counts_as_absent(assert_violation):
    # In preview outputs, the provider marks the unset (computed) inline block unknown.
    bucket = resource(BUCKET, "new", {"bucket": "new"}, outputs={"versioning": UNKNOWN})
    assert_violation("s3-bucket-versioned", [bucket], "has no versioning")


# --- s3-bucket-sse-kms ----------------------------------------------------------------

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


@pytest.mark.parametrize("by_dependency", [False, True])
def test_sse_kms_passes(assert_passes, compliant_bucket, by_dependency):
    assert_passes("s3-bucket-sse-kms", compliant_bucket(by_dependency=by_dependency))


def test_sse_kms_fails_without_encryption(assert_violation, compliant_bucket):
    assert_violation("s3-bucket-sse-kms", compliant_bucket(skip=["sse"]), "has no SSE-KMS")


def test_sse_kms_fails_on_aes256(assert_violation, compliant_bucket):
    stack = _replace(
        compliant_bucket(),
        "sse",
        rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
    )
    assert_violation("s3-bucket-sse-kms", stack, "encrypts with 'AES256'")


def test_sse_kms_fails_on_aws_managed_key(assert_violation, compliant_bucket):
    stack = _replace(
        compliant_bucket(),
        "sse",
        rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
    )
    assert_violation("s3-bucket-sse-kms", stack, "AWS-managed key")


def test_sse_kms_accepts_inline_and_v2(assert_passes):
    kms = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN}
    inline = resource(
        BUCKET,
        "inline",
        {
            "serverSideEncryptionConfiguration": {
                "rule": {"applyServerSideEncryptionByDefault": kms}
            }
        },
    )
    v2 = resource(
        BUCKET_V2,
        "v2",
        {
            "serverSideEncryptionConfigurations": [
                {"rules": [{"applyServerSideEncryptionByDefaults": [kms]}]}
            ]
        },
    )
    assert_passes("s3-bucket-sse-kms", [inline, v2])


def test_sse_kms_requires_sse_s3_on_access_log_targets(assert_violation, assert_passes):
    # S3 delivers server access logs only into SSE-S3 buckets, so a log target is the exception.
    logs = resource(BUCKET, "access-logs", {"bucket": "access-logs"})
    logging = resource(LOGGING, "data-logging", {"bucket": "data", "targetBucket": "access-logs"})

    def encryption(algorithm):
        return resource(
            SSE,
            "access-logs-sse",
            {
                "bucket": "access-logs",
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": algorithm,
                            "kmsMasterKeyId": "k",
                        }
                    }
                ],
            },
        )

    assert_passes("s3-bucket-sse-kms", [logs, logging, encryption("AES256")])
    assert_violation(
        "s3-bucket-sse-kms",
        [logs, logging, encryption("aws:kms")],
        "S3 delivers server access logs only to buckets encrypted with SSE-S3",
    )
    assert_violation(
        "s3-bucket-sse-kms", [logs, logging], "receives access logs but has no default encryption"
    )


# --- s3-bucket-public-access-blocked --------------------------------------------------


@pytest.mark.parametrize("by_dependency", [False, True])
def test_public_access_block_passes(assert_passes, compliant_bucket, by_dependency):
    assert_passes("s3-bucket-public-access-blocked", compliant_bucket(by_dependency=by_dependency))


def test_public_access_block_fails_when_missing(assert_violation, compliant_bucket):
    assert_violation(
        "s3-bucket-public-access-blocked",
        compliant_bucket(skip=["pab"]),
        "has no aws.s3.BucketPublicAccessBlock",
    )


def test_public_access_block_fails_when_a_flag_is_off(assert_violation, compliant_bucket):
    stack = _replace(compliant_bucket(), "pab", restrictPublicBuckets=False)
    stack = [
        {**r, "inputs": {k: v for k, v in r["inputs"].items() if k != "ignorePublicAcls"}}
        if r["name"] == "data-pab"
        else r
        for r in stack
    ]
    assert_violation(
        "s3-bucket-public-access-blocked",
        stack,
        "leaves ignorePublicAcls, restrictPublicBuckets off",
    )


def test_public_access_block_accepts_account_wide_block(assert_passes, compliant_bucket):
    account = resource(
        "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
        "account",
        {
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
    )
    assert_passes("s3-bucket-public-access-blocked", [*compliant_bucket(skip=["pab"]), account])


# --- s3-bucket-tls-only ---------------------------------------------------------------


@pytest.mark.parametrize("by_dependency", [False, True])
def test_tls_only_passes(assert_passes, compliant_bucket, by_dependency):
    assert_passes("s3-bucket-tls-only", compliant_bucket(by_dependency=by_dependency))


def test_tls_only_fails_without_policy(assert_violation, compliant_bucket):
    assert_violation(
        "s3-bucket-tls-only", compliant_bucket(skip=["policy"]), "does not enforce TLS"
    )


def test_tls_only_fails_when_policy_has_no_secure_transport_deny(
    assert_violation, compliant_bucket
):
    document = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ]
    }
    stack = _replace(compliant_bucket(), "policy", policy=json.dumps(document))
    assert_violation("s3-bucket-tls-only", stack, "has no statement denying s3:*")


def test_tls_only_accepts_json_string_and_inline_policy(assert_passes, compliant_bucket):
    stack = compliant_bucket(skip=["policy"])
    policy = next(r for r in compliant_bucket() if r["name"] == "data-policy")
    stack[0] = {
        **stack[0],
        "inputs": {**stack[0]["inputs"], "policy": json.dumps(policy["inputs"]["policy"])},
    }
    assert_passes("s3-bucket-tls-only", stack)


# --- s3-bucket-no-public-acl ----------------------------------------------------------


def test_no_public_acl_fails_on_canned_acl(assert_violation):
    bucket = resource(BUCKET, "web", {"acl": "public-read"})
    assert_violation(
        "s3-bucket-no-public-acl", [bucket], "Bucket 'web' uses the public canned ACL 'public-read'"
    )


def test_no_public_acl_fails_on_all_users_grant(assert_violation):
    acl = resource(
        "aws:s3/bucketAclV2:BucketAclV2",
        "web-acl",
        {
            "bucket": "web",
            "accessControlPolicy": {
                "grants": [
                    {
                        "permission": "READ",
                        "grantee": {
                            "type": "Group",
                            "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                        },
                    }
                ]
            },
        },
    )
    assert_violation("s3-bucket-no-public-acl", [acl], "grants access to the public group")


def test_no_public_acl_fails_on_public_object(assert_violation):
    obj = resource("aws:s3/bucketObjectv2:BucketObjectv2", "model", {"acl": "public-read-write"})
    assert_violation("s3-bucket-no-public-acl", [obj], "public canned ACL 'public-read-write'")


def test_no_public_acl_passes_private(assert_passes):
    assert_passes("s3-bucket-no-public-acl", [resource(BUCKET, "data", {"acl": "private"})])


# --- s3-bucket-policy-no-public-allow -------------------------------------------------


def _bucket_policy(statement):
    return resource(
        "aws:s3/bucketPolicy:BucketPolicy",
        "data-policy",
        {"bucket": "data", "policy": {"Version": "2012-10-17", "Statement": [statement]}},
    )


def test_policy_no_public_allow_fails_on_star(assert_violation):
    statement = {
        "Sid": "Public",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data/*",
    }
    assert_violation(
        "s3-bucket-policy-no-public-allow",
        [_bucket_policy(statement)],
        "statement 0 ('Public') allows Principal '*'",
    )


def test_policy_no_public_allow_fails_on_not_principal(assert_violation):
    statement = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
        "Action": "s3:GetObject",
        "Resource": "*",
    }
    assert_violation(
        "s3-bucket-policy-no-public-allow", [_bucket_policy(statement)], "allows Principal '*'"
    )


def test_policy_no_public_allow_fails_when_the_condition_does_not_restrict_who(assert_violation):
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    assert_violation(
        "s3-bucket-policy-no-public-allow", [_bucket_policy(statement)], "allows Principal '*'"
    )


def test_policy_no_public_allow_passes_with_restricting_condition(assert_passes):
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-123"}},
    }
    assert_passes("s3-bucket-policy-no-public-allow", [_bucket_policy(statement)])


def test_policy_no_public_allow_passes_named_principal(assert_passes):
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/train"},
        "Action": "s3:GetObject",
        "Resource": "*",
    }
    assert_passes("s3-bucket-policy-no-public-allow", [_bucket_policy(statement)])


# --- s3-bucket-access-logging ---------------------------------------------------------


@pytest.mark.parametrize("by_dependency", [False, True])
def test_access_logging_passes(assert_passes, compliant_bucket, by_dependency):
    assert_passes("s3-bucket-access-logging", compliant_bucket(by_dependency=by_dependency))


def test_access_logging_fails_without_logging(assert_violation, compliant_bucket):
    assert_violation(
        "s3-bucket-access-logging",
        compliant_bucket(skip=["logging"]),
        "has no server access logging",
    )


def test_access_logging_exempts_the_log_target_bucket(assert_passes, compliant_bucket):
    logs = resource(BUCKET, "access-logs", {"tags": TAGS})
    data = compliant_bucket(by_dependency=True)
    data = [
        {
            **r,
            "propertyDependencies": {**r["propertyDependencies"], "targetBucket": [logs["urn"]]},
            "inputs": {**r["inputs"], "targetBucket": UNKNOWN},
        }
        if r["name"] == "data-logging"
        else r
        for r in data
    ]
    assert_passes("s3-bucket-access-logging", [logs, *data])


# --- s3-log-bucket-not-self -----------------------------------------------------------


def test_log_not_self_fails_by_value(assert_violation):
    logging = resource(LOGGING, "logs-logging", {"bucket": "logs", "targetBucket": "logs"})
    assert_violation("s3-log-bucket-not-self", [logging], "BucketLogging 'logs-logging' delivers")


def test_log_not_self_fails_by_dependency(assert_violation):
    bucket = resource(BUCKET, "logs", {})
    logging = resource(
        LOGGING,
        "logs-logging",
        {"bucket": UNKNOWN, "targetBucket": UNKNOWN},
        property_dependencies={"bucket": [bucket["urn"]], "targetBucket": [bucket["urn"]]},
    )
    assert_violation("s3-log-bucket-not-self", [bucket, logging], "into the same bucket")


def test_log_not_self_fails_inline(assert_violation):
    bucket = resource(BUCKET, "logs", {"bucket": "logs", "logging": {"targetBucket": "logs"}})
    assert_violation("s3-log-bucket-not-self", [bucket], "S3 bucket 'logs' logs to itself")


def test_log_not_self_passes_with_separate_target(assert_passes):
    data, logs = resource(BUCKET, "data", {}), resource(BUCKET, "logs", {})
    logging = resource(
        LOGGING,
        "data-logging",
        {"bucket": UNKNOWN, "targetBucket": UNKNOWN},
        property_dependencies={"bucket": [data["urn"]], "targetBucket": [logs["urn"]]},
    )
    assert_passes("s3-log-bucket-not-self", [data, logs, logging])


# --- s3-capture-bucket-lifecycle ------------------------------------------------------

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


def _capture_stack(by_dependency):
    bucket = resource(BUCKET, "capture", {} if by_dependency else {"bucket": "capture"})
    capture = {
        "enableCapture": True,
        "initialSamplingPercentage": 100.0,
        "destinationS3Uri": UNKNOWN if by_dependency else "s3://capture/endpoint",
        "captureOptions": [{"captureMode": "Input"}],
    }
    config = resource(
        ENDPOINT_CONFIG,
        "serving",
        {"dataCaptureConfig": capture},
        property_dependencies={"dataCaptureConfig": [bucket["urn"]]} if by_dependency else None,
    )
    return bucket, config


def _lifecycle(bucket, status="Enabled"):
    return resource(
        LIFECYCLE,
        "capture-lifecycle",
        {
            "bucket": UNKNOWN,
            "rules": [
                {
                    "id": "expire",
                    "status": status,
                    "filter": {"prefix": "endpoint/"},
                    "expiration": {"days": 30.0},
                }
            ],
        },
        property_dependencies={"bucket": [bucket["urn"]]},
    )


@pytest.mark.parametrize("by_dependency", [False, True])
def test_capture_lifecycle_fails_without_rule(assert_violation, by_dependency):
    bucket, config = _capture_stack(by_dependency)
    assert_violation(
        "s3-capture-bucket-lifecycle",
        [bucket, config],
        "S3 bucket 'capture' receives SageMaker data capture",
    )


@pytest.mark.parametrize("by_dependency", [False, True])
def test_capture_lifecycle_passes_with_rule(assert_passes, by_dependency):
    bucket, config = _capture_stack(by_dependency)
    assert_passes("s3-capture-bucket-lifecycle", [bucket, config, _lifecycle(bucket)])


def test_capture_lifecycle_fails_on_disabled_rule(assert_violation):
    bucket, config = _capture_stack(True)
    assert_violation(
        "s3-capture-bucket-lifecycle",
        [bucket, config, _lifecycle(bucket, "Disabled")],
        "has no enabled rule",
    )


def test_capture_lifecycle_ignores_buckets_without_capture(assert_passes):
    assert_passes("s3-capture-bucket-lifecycle", [resource(BUCKET, "models", {"bucket": "models"})])


# --- s3-bucket-owner-enforced ---------------------------------------------------------


@pytest.mark.parametrize("by_dependency", [False, True])
def test_owner_enforced_passes(assert_passes, compliant_bucket, by_dependency):
    assert_passes("s3-bucket-owner-enforced", compliant_bucket(by_dependency=by_dependency))


def test_owner_enforced_fails_when_missing(assert_violation, compliant_bucket):
    assert_violation(
        "s3-bucket-owner-enforced",
        compliant_bucket(skip=["ownership"]),
        "has no aws.s3.BucketOwnershipControls",
    )


def test_owner_enforced_fails_on_object_writer(assert_violation, compliant_bucket):
    stack = _replace(compliant_bucket(), "ownership", rule={"objectOwnership": "ObjectWriter"})
    assert_violation("s3-bucket-owner-enforced", stack, "sets object ownership 'ObjectWriter'")


# --- s3-bucket-no-force-destroy -------------------------------------------------------


def test_no_force_destroy_fails(assert_violation):
    bucket = resource(BUCKET, "scratch", {"forceDestroy": True})
    assert_violation(
        "s3-bucket-no-force-destroy", [bucket], "S3 bucket 'scratch' sets force_destroy=True"
    )


def test_no_force_destroy_passes(assert_passes):
    assert_passes("s3-bucket-no-force-destroy", [resource(BUCKET, "data", {"forceDestroy": False})])


def test_fully_compliant_bucket_has_no_s3_violations(compliant_bucket):
    for by_dependency in (False, True):
        found = [
            v
            for v in evaluate(compliant_bucket(by_dependency=by_dependency))
            if v.policy.startswith("s3-")
        ]
        assert found == []
