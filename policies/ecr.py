"""ECR policies for the model/serving image repositories."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import MlopsResourcePolicy, Subject
from ._values import UNKNOWN, Tri, first, get, items, truth

REPOSITORY_TYPE: Final = "aws:ecr/repository:Repository"
IMMUTABLE_SETTINGS: Final = frozenset({"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"})
KMS_ENCRYPTION_TYPES: Final = frozenset({"KMS", "KMS_DSSE"})


def _check_immutable(subject: Subject) -> Iterator[str]:
    # ECR defaults to MUTABLE, so an absent setting is a violation.
    value = get(subject.props, "imageTagMutability")
    if value is not UNKNOWN and value not in IMMUTABLE_SETTINGS:
        yield (
            f"ECR repository '{subject.name}' allows tags to be overwritten, so a deployed "
            "model image can change under the same tag. Set image_tag_mutability='IMMUTABLE'."
        )


def _check_scan_on_push(subject: Subject) -> Iterator[str]:
    scan = get(subject.props, "imageScanningConfiguration", "scanOnPush")
    if truth(scan) is Tri.NO:
        yield (
            f"ECR repository '{subject.name}' does not scan images on push. Set "
            "image_scanning_configuration={'scan_on_push': True}."
        )


def _check_kms(subject: Subject) -> Iterator[str]:
    configs = items(first(subject.props, "encryptionConfigurations", "encryptionConfiguration"))
    types = [get(config, "encryptionType") for config in configs]
    if any(t is UNKNOWN or t in KMS_ENCRYPTION_TYPES for t in types):
        return
    yield (
        f"ECR repository '{subject.name}' uses the default AES256 encryption. Set "
        "encryption_configurations=[{'encryption_type': 'KMS', 'kms_key': <key>.arn}]."
    )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="ecr-image-tag-immutable",
        description="Checks that every ECR repository has immutable image tags.",
        level=EnforcementLevel.MANDATORY,
        resource_types=(REPOSITORY_TYPE,),
        check=_check_immutable,
        remediation="Set image_tag_mutability='IMMUTABLE' on the aws.ecr.Repository.",
    ),
    MlopsResourcePolicy(
        name="ecr-scan-on-push",
        description="Checks that every ECR repository scans images on push.",
        level=EnforcementLevel.MANDATORY,
        resource_types=(REPOSITORY_TYPE,),
        check=_check_scan_on_push,
        remediation="Set image_scanning_configuration={'scan_on_push': True}.",
    ),
    MlopsResourcePolicy(
        name="ecr-kms-encrypted",
        description="Checks that every ECR repository encrypts images with KMS.",
        level=EnforcementLevel.ADVISORY,
        resource_types=(REPOSITORY_TYPE,),
        check=_check_kms,
        remediation="Set encryption_configurations with encryption_type 'KMS' and a kms_key.",
    ),
]
