"""ECR policies."""

from __future__ import annotations

from policies.offline import resource

REPO = "aws:ecr/repository:Repository"
SECURE = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": "arn:key"}],
}


def test_immutable_fails_by_default(assert_violation):
    assert_violation(
        "ecr-image-tag-immutable",
        [resource(REPO, "serving", {})],
        "ECR repository 'serving' allows tags",
    )


def test_immutable_passes(assert_passes):
    assert_passes("ecr-image-tag-immutable", [resource(REPO, "serving", SECURE)])


def test_scan_on_push_fails(assert_violation):
    repo = resource(
        REPO, "serving", {**SECURE, "imageScanningConfiguration": {"scanOnPush": False}}
    )
    assert_violation("ecr-scan-on-push", [repo], "does not scan images on push")


def test_scan_on_push_passes(assert_passes):
    assert_passes("ecr-scan-on-push", [resource(REPO, "serving", SECURE)])


def test_kms_fails_on_default_encryption(assert_violation):
    repo = resource(
        REPO, "serving", {**SECURE, "encryptionConfigurations": [{"encryptionType": "AES256"}]}
    )
    assert_violation("ecr-kms-encrypted", [repo], "uses the default AES256 encryption")


def test_kms_passes(assert_passes):
    assert_passes("ecr-kms-encrypted", [resource(REPO, "serving", SECURE)])
