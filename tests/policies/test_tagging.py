"""Tagging policy, including provider default tags and configurable keys."""

from __future__ import annotations

import json

from policies.offline import UNKNOWN, resource

KEY = "aws:kms/key:Key"
PROVIDER = "pulumi:providers:aws"


def test_required_tags_fails_when_missing(assert_violation):
    key = resource(KEY, "data-key", {"tags": {"owner": "ml-team"}})
    assert_violation(
        "required-tags", [key], "Key 'data-key' is missing required tag(s) cost-center"
    )


def test_required_tags_fails_on_empty_value(assert_violation):
    key = resource(KEY, "data-key", {"tags": {"owner": " ", "cost-center": "cc"}})
    assert_violation("required-tags", [key], "missing required tag(s) owner")


def test_required_tags_uses_configured_keys(assert_violation, assert_passes):
    key = resource(KEY, "data-key", {"tags": {"owner": "a", "cost-center": "b"}})
    config = {"required-tags": {"tags": ["owner", "environment"]}}
    assert_violation("required-tags", [key], "missing required tag(s) environment", config)
    assert_passes("required-tags", [key])


def test_required_tags_passes_with_own_or_unknown_tags(assert_passes):
    keys = [
        resource(KEY, "a", {"tags": {"owner": "a", "cost-center": "b"}}),
        resource(KEY, "b", {"tags": UNKNOWN}),
        resource(KEY, "c", {"tags": {"owner": UNKNOWN, "cost-center": "b"}}),
    ]
    assert_passes("required-tags", keys)


def test_required_tags_merges_provider_default_tags(assert_passes, assert_violation):
    provider = resource(
        PROVIDER,
        "aws",
        {
            "region": "eu-west-1",
            "defaultTags": json.dumps({"tags": {"owner": "ml", "cost-center": "cc"}}),
        },
    )
    reference = provider["urn"] + "::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    tagged_by_provider = resource(KEY, "data-key", {}, provider=reference)
    assert_passes("required-tags", [provider, tagged_by_provider])
    assert_violation(
        "required-tags", [provider, resource(KEY, "no-provider", {})], "Key 'no-provider'"
    )


def test_required_tags_ignores_untaggable_types(assert_passes):
    attachment = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "x", {"role": "r", "policyArn": "a"}
    )
    component = resource("mlops:storage:Bucket", "data", {}, custom=False)
    assert_passes("required-tags", [attachment, component])
