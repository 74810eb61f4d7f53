"""`infra.boundary`: the permissions boundary is a true ceiling, never narrower than what
the stack's roles are granted, and every role of every stack carries it."""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from typing import Any

import pytest

from infra.backend import PulumiBackend
from infra.boundary import (
    BOUNDED_ROLE_ACTIONS,
    CI_ROLES,
    IDENTITY_CHANGES,
    KEY_CHANGES,
    POLICY_CHANGES,
    boundary_arn,
    boundary_policy,
    boundary_policy_name,
)
from infra.network import flow_logs_delivery_policy
from infra.permissions import (
    Scope,
    deploy_policies,
    kubernetes_serving_policy,
    kubernetes_training_policy,
    retrain_policy,
)
from infra.plan import UNKNOWN, plan_stack
from infra.policy_document import MANAGED_POLICY_LIMIT, policy_size
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


IAM = f"arn:aws:iam::{ACCOUNT}"
# Who each document is for: the boundary treats CI roles and workload roles differently.
PRINCIPALS = {
    "deploy": f"{IAM}:role/{PREFIX}-ci-deploy",
    "preview": f"{IAM}:role/{PREFIX}-ci-preview",
    "retrain": f"{IAM}:role/{PREFIX}-ci-retrain",
    "monitoring": f"{IAM}:role/{PREFIX}-monitoring-read",
    "sagemaker": f"{IAM}:role/{PREFIX}-sagemaker-execution",
    "k8s-serving": f"{IAM}:role/{PREFIX}-k8s-serving",
    "k8s-training": f"{IAM}:role/{PREFIX}-k8s-training",
    "flow-logs": f"{IAM}:role/{PREFIX}-vpc-flow-logs",
}


def principal_of(label: str) -> str:
    return next(arn for key, arn in PRINCIPALS.items() if label.startswith(key))


def _holds(statement: dict[str, Any], region: str, principal: str) -> bool:
    """The statement's condition, for the stack's own requests by `principal`: in its
    region, on resources carrying its Name tag (every stack resource does: infra.tags).
    Conditions on anything else are taken as not holding."""
    for operator, keys in statement.get("Condition", {}).items():
        for key, value in keys.items():
            values = as_list(value)
            if (operator, key) == ("StringEquals", "aws:RequestedRegion"):
                ok = region in values
            elif (operator, key) == ("StringLike", "aws:ResourceTag/Name"):
                ok = f"{PREFIX}-*" in values
            elif (operator, key) == ("ArnLike", "aws:PrincipalArn"):
                ok = any(covers(v, principal) for v in values)
            elif (operator, key) == ("ArnNotLike", "aws:PrincipalArn"):
                ok = not any(covers(v, principal) for v in values)
            else:
                return False
            if not ok:
                return False
    return True


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        hit = not any(covers(a, action) for a in as_list(statement["NotAction"]))
    else:
        hit = any(covers(a, action) for a in as_list(statement["Action"]))
    return hit and any(covers(r, resource) for r in as_list(statement["Resource"]))


def ceiling_allows(
    doc: dict[str, Any],
    action: str,
    resource: str,
    region: str,
    principal: str = PRINCIPALS["deploy"],
) -> bool:
    return any(
        s["Effect"] == "Allow" and _holds(s, region, principal) and _matches(s, action, resource)
        for s in statements(doc)
    )


def test_the_boundary_allows_everything_each_role_is_granted() -> None:
    # (The bucket, key and repository ARNs the documents take are built for SCOPE.)
    scope = SCOPE
    ceiling = boundary(scope)
    for label, doc in role_documents(scope).items():
        for statement in statements(doc):
            assert statement["Effect"] == "Allow", label
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert ceiling_allows(
                        ceiling, action, resource, scope.region, principal_of(label)
                    ), f"{label}/{statement['Sid']}: the boundary cuts {action} on {resource}"


def test_the_ceiling_leaves_out_other_stacks_and_services() -> None:
    ceiling = boundary()
    assert not ceiling_allows(ceiling, "s3:GetObject", "arn:aws:s3:::someone-else/x", REGION)
    assert not ceiling_allows(
        ceiling, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAdmin", REGION
    )
    assert not ceiling_allows(ceiling, "lambda:CreateFunction", "*", REGION)
    assert not ceiling_allows(ceiling, "secretsmanager:GetSecretValue", "*", REGION)
    conditional = {
        s["Sid"]: s["Condition"]
        for s in statements(ceiling)
        if s.get("Condition") and s["Effect"] == "Allow"
    }
    assert conditional == {
        # Keys by their Name tag (their ARNs carry random ids), never other keys.
        "StackKeys": {"StringLike": {"aws:ResourceTag/Name": f"{PREFIX}-*"}},
        "StackRegion": {"StringEquals": {"aws:RequestedRegion": REGION}},
        # Only CI reaches the Pulumi backend.
        "PulumiBackend": {"ArnLike": {"aws:PrincipalArn": f"{IAM}:role/{PREFIX}-ci-*"}},
    }
    assert not ceiling_allows(ceiling, "sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:1:x", REGION)
    assert not ceiling_allows(
        ceiling, "logs:GetLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app", REGION
    )


def test_a_self_managed_backend_is_let_in_by_name_only() -> None:
    state = f"arn:aws:s3:::{STATE_BUCKET}"
    key = backend_for(SCOPE).secrets_key_arn
    ours = f"{state}/.pulumi/stacks/mlops-platform/test.json"
    assert ceiling_allows(boundary(), "s3:PutObject", ours, REGION)
    # Another stack's checkpoint in the same bucket stays out of reach.
    for other in ("mlops-platform/prod.json", "mlops-platform/test2.json", "other/test.json"):
        assert not ceiling_allows(
            boundary(), "s3:PutObject", f"{state}/.pulumi/stacks/{other}", REGION
        )
    assert not ceiling_allows(
        boundary(), "s3:PutObject", f"{state}/.pulumi/history/mlops-platform/prod/x", REGION
    )
    assert ceiling_allows(boundary(), "kms:Decrypt", key, "us-east-1")  # any region's key
    assert not ceiling_allows(boundary(), "s3:PutBucketPolicy", state, REGION)
    bare = boundary(backend=False)
    assert not ceiling_allows(bare, "s3:GetObject", f"{state}/x", REGION)
    assert STATE_BUCKET not in json.dumps(bare)


def _deny(sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements(boundary()) if s["Sid"] == sid]
    assert found["Effect"] == "Deny"
    return found


def _denied(
    action: str,
    resource: str,
    ceiling: dict[str, Any] | None = None,
    principal: str = PRINCIPALS["deploy"],
) -> bool:
    """A Deny of the boundary covers `action` on all of `resource`, for `principal`
    (denies that depend on the request, like a missing boundary, are not counted)."""
    return any(
        s["Effect"] == "Deny" and _holds(s, REGION, principal) and _matches(s, action, resource)
        for s in statements(ceiling or boundary())
    )


def test_the_boundary_and_the_ci_policies_cannot_be_changed() -> None:
    deploy_policies_arns = [f"{IAM}:policy/{PREFIX}-ci-deploy-{part}" for part in ("ml", "x")]
    for target in (BOUNDARY, *deploy_policies_arns):
        for action in POLICY_CHANGES:
            assert _denied(action, target), (action, target)
    # The stack's other managed policies stay the deploy role's to update.
    assert not _denied("iam:CreatePolicyVersion", f"{IAM}:policy/{PREFIX}-other")


@pytest.mark.parametrize("role", CI_ROLES)
def test_ci_roles_cannot_change_their_own_permissions_or_trust(role: str) -> None:
    arn = f"{IAM}:role/{PREFIX}-{role}"
    for action in (
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
    ):
        assert _denied(action, arn), (action, role)
    # A workload role's policies stay the deploy role's to manage (inside the ceiling).
    assert not _denied("iam:PutRolePolicy", f"{IAM}:role/{PREFIX}-sagemaker-execution")


def test_identities_trust_and_keys_are_the_administrators() -> None:
    for action in (*IDENTITY_CHANGES, *KEY_CHANGES):
        assert _denied(action, "*"), action
    assert {"iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"} <= set(
        IDENTITY_CHANGES
    )
    (grants,) = [s for s in statements(boundary()) if s["Sid"] == "GrantsToAwsOnly"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "false"}}


def test_history_stays_and_nothing_leaves_the_stack() -> None:
    for action in ("s3:DeleteObjectVersion", "s3:BypassGovernanceRetention", "ec2:RunInstances"):
        assert _denied(action, "*"), action


def test_roles_without_the_boundary_cannot_be_managed() -> None:
    (carry,) = [s for s in statements(boundary()) if s["Sid"] == "BoundedRolesOnly"]
    assert set(carry["Action"]) == set(BOUNDED_ROLE_ACTIONS)
    # StringNotEquals is true when the key is absent: a role created with no boundary.
    assert carry["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}


def test_no_role_is_granted_what_the_boundary_denies() -> None:
    """The documents say what the roles can really do: nothing they list is denied."""
    for label, doc in role_documents().items():
        for statement in statements(doc):
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    assert not _denied(action, resource, principal=principal_of(label)), (
                        f"{label}: {action} on {resource}"
                    )


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
    assert seen == set(BOUNDED_ROLE_ACTIONS) - {"iam:CreateRole"}


def test_the_largest_boundary_fits_a_managed_policy() -> None:
    # The longest prefix, bucket, project, stack and cluster names the config allows.
    backend = PulumiBackend(
        "aws", "b" * 63, f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{'0' * 36}",
        project="p" * 31, stack="s" * 31,
    )  # fmt: skip
    document = boundary_policy(
        "aws", "eu-west-1", ACCOUNT, "p" * 31 + "-" + "s" * 31, backend, eks_cluster="c" * 100
    )
    assert policy_size(document) <= MANAGED_POLICY_LIMIT


def test_a_boundary_over_the_quota_is_refused_by_the_config() -> None:
    from infra.config import ConfigError, parse_config

    values = {
        "aws:region": "us-gov-west-1",
        "aws:allowedAccountIds": [ACCOUNT],
        "mlops-platform:environment": "dev",
        "mlops-platform:owner": "ml-platform",
        "mlops-platform:costCenter": "cc-1",
        "mlops-platform:ciGithubRepository": "acme/models",
        "mlops-platform:ciStateBucket": "b" * 63,
        "mlops-platform:kubernetesEnabled": True,
        "mlops-platform:kubernetesClusterName": "c" * 100,
        "mlops-platform:kubernetesOidcProviderArn": (
            f"arn:aws-us-gov:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/A"
        ),
    }
    with pytest.raises(ConfigError, match="over IAM's 6144 for one policy"):
        parse_config(values, project="p" * 31, stack="s" * 31, source="test")


def test_workloads_get_their_data_plane_and_nothing_else() -> None:
    sagemaker, pod = PRINCIPALS["sagemaker"], PRINCIPALS["k8s-serving"]
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-retraining"
    role = f"{IAM}:role/{PREFIX}-sagemaker-execution"
    state = f"arn:aws:s3:::{STATE_BUCKET}/.pulumi/stacks/mlops-platform/test.json"
    for principal in (sagemaker, pod):
        assert _denied("sqs:SendMessage", queue, principal=principal)
        assert _denied("iam:PutRolePolicy", role, principal=principal)
        assert not ceiling_allows(boundary(), "s3:GetObject", state, REGION, principal)
        assert not _denied("s3:GetObject", f"arn:aws:s3:::{PREFIX}-models/x", principal=principal)
    # CI keeps them (within its own policies).
    assert not _denied("sqs:SendMessage", queue)
    assert ceiling_allows(boundary(), "s3:GetObject", state, REGION, PRINCIPALS["preview"])


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

    checkpoint = f"{state}/.pulumi/stacks/mlops-platform/dev.json*"
    locks = f"{state}/.pulumi/locks/organization/mlops-platform/dev/*"
    deploy = grants("permissions-deploy-observability")
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= deploy[checkpoint]
    assert "s3:PutObject" in deploy[f"{state}/.pulumi/history/mlops-platform/dev/*"]
    assert "kms:Encrypt" in deploy[key]
    assert not [r for r in deploy if r.endswith(("/*", "*")) and "/dev" not in r and r != state]
    for reader in ("permissions-preview", "permissions-retrain"):
        read = grants(reader)
        assert read[checkpoint] == {"s3:GetObject"}, reader
        assert read[locks] == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, reader
        assert read[key] == {"kms:Decrypt"}, reader
    assert STATE_BUCKET in plan.get("roles-boundary").inputs["policy"]
