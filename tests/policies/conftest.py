"""Fixtures for the policy-pack tests.

Helpers are fixtures (not an importable module) so they work whatever pytest import mode
or package layout the repository ends up with.

* ``assert_violation(policy, resources, "substring", config=None)`` evaluates the whole
  pack offline and asserts that ``policy`` reports a violation containing the substring.
* ``assert_passes(policy, resources, config=None)`` asserts it reports nothing.
* ``compliant_bucket(name, ...)`` builds a bucket with every companion the S3 policies
  want, either linked by value or (``by_dependency=True``) by property dependencies only,
  as during a preview where the bucket's id is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from policies.offline import UNKNOWN, Report, Violation, analyze, resource

Resources = Sequence[Mapping[str, Any]]
BUCKET = "aws:s3/bucket:Bucket"
TAGS = {"owner": "ml-team", "cost-center": "cc-42"}


def _report(resources: Resources, config: Mapping[str, Any] | None) -> Report:
    return analyze(resources, config)


@pytest.fixture
def assert_violation() -> Callable[..., list[Violation]]:
    def check(
        policy: str,
        resources: Resources,
        substring: str,
        config: Mapping[str, Any] | None = None,
    ) -> list[Violation]:
        report = _report(resources, config)
        assert not [s for s in report.skipped if s.policy == policy], report.skipped
        found = [v for v in report.violations if v.policy == policy]
        matching = [v for v in found if substring in v.message]
        assert matching, f"no {policy} violation containing {substring!r}; got {found}"
        return matching

    return check


@pytest.fixture
def assert_passes() -> Callable[..., None]:
    def check(policy: str, resources: Resources, config: Mapping[str, Any] | None = None) -> None:
        report = _report(resources, config)
        assert not [v for v in report.violations if v.policy == policy], report.violations
        assert not [s for s in report.skipped if s.policy == policy], report.skipped

    return check


def _bucket_companions(
    bucket: dict[str, Any], name: str, by_dependency: bool
) -> list[dict[str, Any]]:
    def companion(type_: str, suffix: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if by_dependency:
            return resource(
                type_,
                f"{name}-{suffix}",
                {"bucket": UNKNOWN, **inputs},
                property_dependencies={"bucket": [bucket["urn"]]},
            )
        return resource(type_, f"{name}-{suffix}", {"bucket": name, **inputs})

    tls_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    return [
        companion(
            "aws:s3/bucketVersioning:BucketVersioning",
            "versioning",
            {"versioningConfiguration": {"status": "Enabled"}},
        ),
        companion(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "sse",
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": "arn:aws:kms:eu-west-1:111122223333:key/abc",
                        },
                        "bucketKeyEnabled": True,
                    }
                ]
            },
        ),
        companion(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "pab",
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
        ),
        companion("aws:s3/bucketPolicy:BucketPolicy", "policy", {"policy": tls_policy}),
        companion(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "ownership",
            {"rule": {"objectOwnership": "BucketOwnerEnforced"}},
        ),
        companion(
            "aws:s3/bucketLogging:BucketLogging",
            "logging",
            {"targetBucket": "access-logs", "targetPrefix": f"{name}/"},
        ),
    ]


@pytest.fixture
def compliant_bucket() -> Callable[..., list[dict[str, Any]]]:
    def build(
        name: str = "data",
        *,
        by_dependency: bool = False,
        skip: Sequence[str] = (),
        bucket_type: str = BUCKET,
    ) -> list[dict[str, Any]]:
        """A bucket and its companions; ``skip`` drops companions by name suffix."""
        inputs: dict[str, Any] = {"tags": dict(TAGS)}
        if not by_dependency:
            inputs["bucket"] = name
        bucket = resource(bucket_type, name, inputs)
        companions = [
            c
            for c in _bucket_companions(bucket, name, by_dependency)
            if c["name"].rsplit("-", 1)[-1] not in skip
        ]
        return [bucket, *companions]

    return build
