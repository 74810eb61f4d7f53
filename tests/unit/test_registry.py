"""Registry: the ECR lifecycle policy as pure data, the component under mocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.plan import UNKNOWN, Plan
from infra.registry import (
    MAX_KEEP_IMAGES,
    Registry,
    RegistryArgs,
    lifecycle_policy,
    model_package_group_name,
    repository_name,
)
from tests.unit.harness import plan_component, spy_registered_outputs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
TAGS = {"project": "mlops-platform", "environment": "dev"}
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f6d1bd8-8c1c-4c2b-9a52-5b1d2b8e7a11"
REPO_TYPE = "aws:ecr/repository:Repository"
LIFECYCLE_TYPE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
GROUP_TYPE = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"


def _run(program: Callable[[], Any], *, preview: bool = False) -> Plan:
    return plan_component(program, region=REGION, preview=preview)


def _args(**overrides: Any) -> RegistryArgs:
    values: dict[str, Any] = {"prefix": PREFIX, "tags": TAGS, "kms_key_arn": KEY_ARN}
    return RegistryArgs(**{**values, **overrides})


def _registry(preview: bool = False, **overrides: Any) -> Plan:
    return _run(lambda: Registry("reg", _args(**overrides)), preview=preview)


# ---------------------------------------------------------------------------- pure


@given(keep=st.integers(1, MAX_KEEP_IMAGES))
def test_lifecycle_policy_keeps_the_last_images(keep: int) -> None:
    rules = lifecycle_policy(keep)["rules"]
    priorities = [r["rulePriority"] for r in rules]
    assert len(set(priorities)) == len(priorities)
    by_status = {r["selection"]["tagStatus"]: r for r in rules}
    assert set(by_status) == {"untagged", "any", "tagged"}
    release = by_status["tagged"]
    # first, so the count rule can never expire an image an endpoint serves
    assert release["rulePriority"] == min(priorities)
    assert release["selection"]["tagPrefixList"] == ["release-"]
    assert release["selection"]["countNumber"] >= 3650
    untagged = by_status["untagged"]["selection"]
    assert untagged["countType"] == "sinceImagePushed"
    assert (untagged["countUnit"], untagged["countNumber"]) == ("days", 1)
    count = by_status["any"]
    assert count["selection"]["countType"] == "imageCountMoreThan"
    assert count["selection"]["countNumber"] == keep
    # ECR requires the tagStatus=any rule to have the highest priority number.
    assert count["rulePriority"] == max(priorities)
    assert all(r["action"] == {"type": "expire"} and r["description"] for r in rules)


@pytest.mark.parametrize("keep", [0, -1, MAX_KEEP_IMAGES + 1])
def test_lifecycle_policy_rejects_impossible_counts(keep: int) -> None:
    with pytest.raises(ValueError, match="keep_images"):
        lifecycle_policy(keep)
    with pytest.raises(ValueError, match="keep_images"):
        _args(keep_images=keep)


def test_names() -> None:
    assert repository_name(PREFIX) == f"{PREFIX}-models"
    assert model_package_group_name(PREFIX) == f"{PREFIX}-models"
    assert len(model_package_group_name("p" * 100)) <= 63
    assert repository_name("My_Project") == repository_name("my-project")  # ECR: lowercase


# ---------------------------------------------------------------------------- component


@pytest.mark.parametrize("preview", [False, True])
def test_repository_is_immutable_scanned_and_kms_encrypted(preview: bool) -> None:
    plan = _registry(preview)
    (repo,) = plan.by_type(REPO_TYPE)
    assert repo.name == "reg-repository"
    assert repo.inputs["name"] == repository_name(PREFIX)
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]
    assert repo.inputs["forceDelete"] is False
    assert repo.inputs["tags"]["project"] == TAGS["project"]
    assert repo.inputs["tags"]["Name"] == repository_name(PREFIX)


@pytest.mark.parametrize("preview", [False, True])
def test_no_repository_policy(preview: bool) -> None:
    """Same-account access goes through IAM; no resource policy opens the repository."""
    plan = _registry(preview)
    assert not [r for r in plan.resources if "repositoryPolicy" in r.type]


@pytest.mark.parametrize(("preview", "keep"), [(False, 20), (True, 20), (False, 3), (True, 500)])
def test_lifecycle_policy_follows_keep_images(preview: bool, keep: int) -> None:
    plan = _registry(preview, keep_images=keep)
    (policy,) = plan.by_type(LIFECYCLE_TYPE)
    repo = plan.get("reg-repository")
    assert repo.urn in policy.property_dependencies["repository"]
    document = json.loads(policy.inputs["policy"])
    counts = [
        r["selection"]["countNumber"]
        for r in document["rules"]
        if r["selection"]["countType"] == "imageCountMoreThan"
    ]
    assert counts == [keep]
    if not preview:
        assert policy.inputs["repository"] == repository_name(PREFIX)


@pytest.mark.parametrize("preview", [False, True])
def test_model_package_group(preview: bool) -> None:
    plan = _registry(preview)
    (group,) = plan.by_type(GROUP_TYPE)
    assert group.name == "reg-model-package-group"
    assert group.inputs["modelPackageGroupName"] == model_package_group_name(PREFIX)
    assert PREFIX in group.inputs["modelPackageGroupDescription"]
    assert group.inputs["tags"]["Name"] == model_package_group_name(PREFIX)


@pytest.mark.parametrize("preview", [False, True])
def test_children_are_parented(preview: bool) -> None:
    plan = _registry(preview)
    component = plan.get("reg")
    assert component.type == "mlops:registry:Registry"
    assert sorted(r.name for r in plan.children(component)) == [
        "reg-lifecycle",
        "reg-model-package-group",
        "reg-repository",
    ]


@pytest.mark.parametrize("preview", [False, True])
def test_repository_waits_for_the_key(preview: bool) -> None:
    import pulumi_aws as aws

    def program() -> None:
        key = aws.kms.Key("key", enable_key_rotation=True)
        Registry("reg", _args(kms_key_arn=key.arn))

    plan = _run(program, preview=preview)
    key = plan.get("key")
    repo = plan.get("reg-repository")
    assert key.urn in repo.property_dependencies["encryptionConfigurations"]
    kms_key = repo.inputs["encryptionConfigurations"][0]["kmsKey"]
    assert kms_key == (UNKNOWN if preview else key.outputs["arn"])


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    yield spy_registered_outputs(monkeypatch, Registry)


@pytest.mark.parametrize("preview", [False, True])
def test_registered_outputs(preview: bool, registered: dict[str, Any]) -> None:
    attributes: list[str] = []

    def program() -> None:
        registry = Registry("reg", _args())
        attributes.extend(
            n for n, v in vars(registry).items()
            if isinstance(v, pulumi.Output) and not n.startswith("_") and n != "urn"
        )  # fmt: skip
        for attr in attributes:
            pulumi.export(attr, getattr(registry, attr))

    plan = _run(program, preview=preview)
    assert (
        set(registered)
        == set(attributes)
        == {
            "repository_url",
            "repository_arn",
            "repository_name",
            "model_package_group_name",
            "model_package_group_arn",
        }
    )
    repo = plan.get("reg-repository")
    group = plan.get("reg-model-package-group")
    assert plan.outputs["repository_name"] == repository_name(PREFIX)
    assert plan.outputs["model_package_group_name"] == model_package_group_name(PREFIX)
    if preview:
        assert plan.outputs["repository_url"] == UNKNOWN
        assert plan.outputs["repository_arn"] == UNKNOWN
        assert plan.outputs["model_package_group_arn"] == UNKNOWN
    else:
        assert plan.outputs["repository_url"] == repo.outputs["repositoryUrl"]
        assert plan.outputs["repository_url"].endswith(f"/{repository_name(PREFIX)}")
        assert plan.outputs["repository_arn"] == repo.outputs["arn"]
        assert plan.outputs["model_package_group_arn"] == group.outputs["arn"]
