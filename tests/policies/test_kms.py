"""KMS policies."""

from __future__ import annotations

import json

from policies.offline import UNKNOWN, resource

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ROOT = {"AWS": "arn:aws:iam::111122223333:root"}


def test_rotation_fails_when_absent(assert_violation):
    key = resource(KEY, "data-key", {"description": "data"})
    assert_violation("kms-key-rotation-enabled", [key], "KMS key 'data-key' does not rotate")


def test_rotation_fails_when_false(assert_violation):
    key = resource(KEY, "data-key", {"enableKeyRotation": False})
    assert_violation("kms-key-rotation-enabled", [key], "enable_key_rotation=True")


def test_rotation_passes_when_enabled_or_unknown(assert_passes):
    keys = [
        resource(KEY, "a", {"enableKeyRotation": True}),
        resource(KEY, "b", {"enableKeyRotation": UNKNOWN}),
    ]
    assert_passes("kms-key-rotation-enabled", keys)


def test_rotation_skips_asymmetric_and_hmac_keys(assert_passes):
    keys = [
        resource(KEY, "signing", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}),
        resource(
            KEY, "mac", {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"}
        ),
    ]
    assert_passes("kms-key-rotation-enabled", keys)


def _key_with(statement, type_=KEY):
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Root",
                "Effect": "Allow",
                "Principal": ROOT,
                "Action": "kms:*",
                "Resource": "*",
            },
            statement,
        ],
    }
    inputs = {"policy": json.dumps(document), "enableKeyRotation": True}
    if type_ == KEY_POLICY:
        inputs = {"keyId": "k", "policy": json.dumps(document)}
    return resource(type_, "data-key", inputs)


def test_key_policy_fails_on_kms_star_to_everyone(assert_violation):
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}},
    }
    assert_violation(
        "kms-key-policy-not-public",
        [_key_with(statement)],
        "statement 1 grants kms:* to Principal '*'",
    )


def test_key_policy_fails_on_unconditioned_public_use(assert_violation):
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Decrypt"],
        "Resource": "*",
    }
    assert_violation(
        "kms-key-policy-not-public",
        [_key_with(statement, KEY_POLICY)],
        "KMS key policy 'data-key' statement 1 allows",
    )


def test_key_policy_passes_for_named_principals(assert_passes):
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/train"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
    }
    assert_passes(
        "kms-key-policy-not-public", [_key_with(statement), _key_with(statement, KEY_POLICY)]
    )


def test_key_policy_passes_for_conditioned_service_use(assert_passes):
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}},
    }
    assert_passes("kms-key-policy-not-public", [_key_with(statement)])
