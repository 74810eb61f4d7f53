"""Where models live between training and serving: the serving-image repository (ECR)
and the SageMaker model package group that records every registered model version.

No ECR repository policy: access from this account goes through IAM (the roles' own
policies), and a repository policy would only be needed to grant OTHER accounts or
services, which this stack does not do. An absent policy is the narrowest one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.naming import physical_name
from infra.tags import merge_tags

MAX_KEEP_IMAGES = 1000  # RegistryConfig.keep_images' upper bound
UNTAGGED_EXPIRY_DAYS = 1


def repository_name(prefix: str) -> str:
    """`<prefix>-models`: ECR names are lowercase, which physical_name guarantees."""
    return physical_name(prefix, "models", max_length=256)


def model_package_group_name(prefix: str) -> str:
    """`<prefix>-models` (SageMaker allows 63 characters)."""
    return physical_name(prefix, "models")


RELEASE_TAG_PREFIX = "release-"
RELEASE_RETENTION_DAYS = 3650


def lifecycle_policy(keep_images: int) -> dict[str, Any]:
    """ECR lifecycle policy: untagged images go after a day, at most `keep_images` stay,
    and images tagged `release-*` (what endpoints serve) are kept for ten years.

    ECR evaluates rules by ascending priority, and an image selected by a rule is never
    expired by a later one: the release rule comes first so the count rule cannot expire
    an image an endpoint may still pull when it scales out. A `tagStatus: any` rule must
    have the highest priority number, so the count rule comes last.
    """
    if not 1 <= keep_images <= MAX_KEEP_IMAGES:
        raise ValueError(f"keep_images must be between 1 and {MAX_KEEP_IMAGES}, got {keep_images}")
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep release images (served by endpoints) for ten years",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [RELEASE_TAG_PREFIX],
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": RELEASE_RETENTION_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Expire untagged images (leftovers of re-pushed builds)",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_EXPIRY_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": f"Keep only the {keep_images} most recent other images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


@dataclass(frozen=True)
class RegistryArgs:
    prefix: str
    """Start of every physical name (cfg.name_prefix)."""
    tags: Mapping[str, str]
    """Stack tags (cfg.tags) applied to the repository and the model package group."""
    kms_key_arn: pulumi.Input[str]
    """ARN of the data key (Keys.data_key_arn) encrypting the images."""
    keep_images: int = 20
    """Images kept in the repository (cfg.registry.keep_images)."""

    def __post_init__(self) -> None:
        lifecycle_policy(self.keep_images)  # fail at construction with the same message


class Registry(pulumi.ComponentResource):
    """An immutable, scanned, KMS-encrypted image repository and a model package group."""

    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    repository_name: pulumi.Output[str]
    model_package_group_name: pulumi.Output[str]
    model_package_group_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:registry:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repo_name = repository_name(args.prefix)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=repo_name,
            # A tag always means the same image: a deployed model cannot be swapped
            # under its tag, and an endpoint's image reference stays reproducible.
            image_tag_mutability="IMMUTABLE",
            # Basic scan of every pushed image for known CVEs.
            image_scanning_configuration={"scan_on_push": True},
            # The stack's key, not the AWS-managed one: its policy names who may pull.
            # (ECR cannot change a repository's encryption later: a new key replaces it.)
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            # Never delete a repository that still holds images.
            force_delete=False,
            tags=merge_tags(args.tags, None, name=repo_name),
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.keep_images)),
            opts=child,
        )
        group_name = model_package_group_name(args.prefix)
        group = aws.sagemaker.ModelPackageGroup(
            f"{name}-model-package-group",
            model_package_group_name=group_name,
            model_package_group_description=(
                f"Model versions of {args.prefix}: registered after evaluation, "
                "deployed once approved"
            ),
            tags=merge_tags(args.tags, None, name=group_name),
            opts=child,
        )

        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.repository_name = repository.name
        self.model_package_group_name = group.model_package_group_name
        self.model_package_group_arn = group.arn
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
                "repository_name": self.repository_name,
                "model_package_group_name": self.model_package_group_name,
                "model_package_group_arn": self.model_package_group_arn,
            }
        )
