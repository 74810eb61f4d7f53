"""`infra.boundary`: the permissions boundary is a true ceiling, never narrower than what
the stack's roles are granted, and every role of every stack carries it."""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from typing import Any

import pytest

from infra.boundary import (
    BOUNDARY_CHANGES,
    BOUNDED_ROLE_ACTIONS,
    boundary_arn,
    boundary_policy,
    boundary_policy_name,
)
from infra.network import flow_logs_delivery_policy
from infra.permissions import (
    MANAGED_POLICY_LIMIT,
    Scope,
    deploy_policies,
    kubernetes_serving_policy,
    kubernetes_training_policy,
    policy_size,
    retrain_policy,
)
from infra.plan import UNKNOWN, plan_stack
from tests.unit.test_permissions import (
    ACCOUNT,
    CAPTURE,
    DATASETS,
    KEY,
    LONG_SCOPE,
    MODELS,
    PREFIX,
    REGION,
    REPOSITORY,
    SCOPE,
    STATE_BUCKET,
    all_documents,
    as_list,
    backend_for,
    statements,
)

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
BOUNDARY = boundary_arn("aws", ACCOUNT, PREFIX)


def boundary(scope: Scope = SCOPE, *, backend: bool = True) -> dict[str, Any]:
    """The boundary, with the self-managed backend `all_documents` grants (or none)."""
    return boundary_policy(
        scope.partition,
        scope.region,
        scope.account_id,
        scope.prefix,
        backend_for(scope) if backend else None,
    )


def role_documents(scope: Scope = SCOPE) -> dict[str, dict[str, Any]]:
    docs = all_documents(scope)
    docs["retrain"] = retrain_policy(
        scope,
        datasets_bucket_arn=DATASETS,
        models_bucket_arn=MODELS,
        capture_bucket_arn=CAPTURE,
        queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining",
        sagemaker_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-execution",
        repository_arn=REPOSITORY,
    )
    docs["k8s-serving"] = kubernetes_serving_policy(
        models_bucket_arn=MODELS, capture_bucket_arn=CAPTURE, kms_key_arns=[KEY]
    )
    docs["k8s-training"] = kubernetes_training_policy(
        datasets_bucket_arn=DATASETS, models_bucket_arn=MODELS, kms_key_arns=[KEY]
    )
    docs["flow-logs"] = flow_logs_delivery_policy(
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/mlops/{PREFIX}/flow-logs"
    )
    return docs


def covers(pattern: str, value: str) -> bool:
    """`pattern` matches every string `value` matches (IAM globbing is case-insensitive
    for actions; a `*` in `value` is only covered by a `*` in `pattern`)."""
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _in_region(statement: dict[str, Any], region: str) -> bool:
    condition = statement.get("Condition", {})
    return condition in ({}, {"StringEquals": {"aws:RequestedRegion": region}})


def ceiling_allows(doc: dict[str, Any], action: str, resource: str, region: str) -> bool:
    for statement in statements(doc):
        if statement["Effect"] != "Allow" or not _in_region(statement, region):
            continue
        if any(covers(a, action) for a in as_list(statement["Action"])) and any(
            covers(r, resource) for r in as_list(statement["Resource"])
        ):
            return True
    return False


def test_the_boundary_allows_everything_each_role_is_granted() -> None:
    # (The bucket, key and repository ARNs the documents take are built for SCOPE.)
    scope = SCOPE
    ceiling = boundary(scope)
    for label, doc in role_documents(scope).items():
        for statement in statements(doc):
            assert statement["Effect"] == "Allow", label
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert ceiling_allows(ceiling, action, resource, scope.region), (
                        f"{label}/{statement['Sid']}: the boundary cuts {action} on {resource}"
                    )


def test_the_ceiling_leaves_out_other_stacks_and_services() -> None:
    ceiling = boundary()
    assert not ceiling_allows(ceiling, "s3:GetObject", "arn:aws:s3:::someone-else/x", REGION)
    assert not ceiling_allows(
        ceiling, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAdmin", REGION
    )
    assert not ceiling_allows(ceiling, "lambda:CreateFunction", "*", REGION)
    assert not ceiling_allows(ceiling, "secretsmanager:GetSecretValue", "*", REGION)
    regional = [s for s in statements(ceiling) if s.get("Condition")]
    assert [s["Condition"] for s in regional if s["Effect"] == "Allow"] == [
        {"StringEquals": {"aws:RequestedRegion": REGION}}
    ]


def test_a_self_managed_backend_is_let_in_by_name_only() -> None:
    state = f"arn:aws:s3:::{STATE_BUCKET}"
    key = backend_for(SCOPE).secrets_key_arn
    assert ceiling_allows(boundary(), "s3:PutObject", f"{state}/.pulumi/stacks/dev.json", REGION)
    assert ceiling_allows(boundary(), "kms:Decrypt", key, "us-east-1")  # any region's key
    assert not ceiling_allows(boundary(), "s3:PutBucketPolicy", state, REGION)
    bare = boundary(backend=False)
    assert not ceiling_allows(bare, "s3:GetObject", f"{state}/x", REGION)
    assert STATE_BUCKET not in json.dumps(bare)


def _deny(sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements(boundary()) if s["Sid"] == sid]
    assert found["Effect"] == "Deny"
    return found


def test_the_boundary_denies_changing_itself() -> None:
    fixed = _deny("BoundaryIsFixed")
    assert fixed["Resource"] == BOUNDARY
    assert set(fixed["Action"]) == set(BOUNDARY_CHANGES)
    # Every policy write the deploy role has on `<prefix>-*` policies, which include the
    # boundary, that could change a document or delete the policy is denied on it.
    writes = {
        action
        for doc in deploy_policies(SCOPE, network=True).values()
        for statement in statements(doc)
        if covers(as_list(statement["Resource"])[0], BOUNDARY)
        for action in as_list(statement["Action"])
    }
    changing = {"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"}
    assert changing <= writes
    assert changing <= set(fixed["Action"])
    assert "iam:SetDefaultPolicyVersion" not in writes


def test_the_boundary_denies_removing_it_and_roles_without_it() -> None:
    assert _deny("BoundaryStays")["Action"] == "iam:DeleteRolePermissionsBoundary"
    carry = _deny("RolesCarryTheBoundary")
    assert set(carry["Action"]) == set(BOUNDED_ROLE_ACTIONS)
    # StringNotEquals is true when the key is absent: a role created with no boundary.
    assert carry["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}


def test_deploy_manages_only_roles_that_carry_the_boundary() -> None:
    bounded = {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}
    seen: set[str] = set()
    for doc in deploy_policies(SCOPE, network=True).values():
        for statement in statements(doc):
            actions = set(as_list(statement["Action"])) & set(BOUNDED_ROLE_ACTIONS)
            if actions:
                condition = statement["Condition"]
                assert condition["StringEquals"] == bounded["StringEquals"], statement["Sid"]
                seen |= actions
            assert "iam:DeleteRolePermissionsBoundary" not in as_list(statement["Action"])
    assert seen == set(BOUNDED_ROLE_ACTIONS)


@pytest.mark.parametrize("scope", [SCOPE, LONG_SCOPE], ids=["short", "longest-prefix"])
def test_the_boundary_fits_a_managed_policy(scope: Scope) -> None:
    assert policy_size(boundary(scope)) <= MANAGED_POLICY_LIMIT
    assert len(boundary_policy_name(scope.prefix)) <= 128
    assert all(s["Sid"].isalnum() for s in statements(boundary(scope)))
    assert f"arn:{scope.partition}:" in json.dumps(boundary(scope))


@cache
def _plan(stack: str, preview: bool) -> Any:
    return plan_stack(stack, preview=preview)


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("stack", ["local", "staging", "prod"])
def test_every_role_of_every_stack_carries_the_boundary(stack: str, preview: bool) -> None:
    plan = _plan(stack, preview)
    (policy,) = [r for r in plan.by_type(POLICY) if r.inputs["name"].endswith("-role-boundary")]
    roles = plan.by_type(ROLE)
    assert len(roles) >= 5
    for role in roles:
        assert set(role.property_dependencies.get("permissionsBoundary", ())) == {policy.urn}, (
            role.name
        )
        expected = UNKNOWN if preview else policy.outputs["arn"]
        assert role.inputs["permissionsBoundary"] == expected, role.name
    prefix = policy.inputs["name"].removesuffix("-role-boundary")
    document = json.loads(policy.inputs["policy"])
    assert f":policy/{prefix}-role-boundary" in json.dumps(document["Statement"])


def test_the_stack_file_names_the_backend_and_every_ci_role_reaches_it() -> None:
    key = "arn:aws:kms:eu-west-1:111122223333:key/5f1c3a7e-1b2d-4c3e-8f9a-0b1c2d3e4f5a"
    plan = plan_stack(
        "dev",
        overrides={
            "mlops-platform:ciStateBucket": STATE_BUCKET,
            "mlops-platform:ciSecretsKmsKeyArn": key,
        },
    )
    state = f"arn:aws:s3:::{STATE_BUCKET}"

    def grants(name: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for statement in json.loads(plan.get(name).inputs["policy"])["Statement"]:
            for resource in as_list(statement["Resource"]):
                if resource.startswith(state) or resource == key:
                    found.setdefault(resource, set()).update(as_list(statement["Action"]))
        return found

    deploy = grants("permissions-deploy-observability")
    assert "s3:PutObject" in deploy[f"{state}/*"]
    assert "kms:Encrypt" in deploy[key]
    for reader in ("permissions-preview", "permissions-retrain"):
        read = grants(reader)
        assert read[f"{state}/*"] == {"s3:GetObject"}, reader
        assert read[f"{state}/.pulumi/locks/*"] == {"s3:PutObject", "s3:DeleteObject"}
        assert read[key] == {"kms:Decrypt"}, reader
    assert STATE_BUCKET in plan.get("roles-boundary").inputs["policy"]
