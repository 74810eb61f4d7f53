"""`infra.iam`: trust policies (pure) and the `Roles` component under mocks."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from infra.iam import (
    GITHUB_OIDC_URL,
    MAX_SESSION_SECONDS,
    STS_AUDIENCE,
    Roles,
    RolesArgs,
    account_mfa_trust_policy,
    deploy_subject,
    github_trust_policy,
    ml_environment,
    not_actions,
    oidc_provider_arn_for,
    partition_for,
    preview_subject,
    sagemaker_trust_policy,
    wildcard_actions,
)
from infra.naming import (
    DEPLOY_ROLE,
    MONITORING_ROLE,
    PREVIEW_ROLE,
    RETRAIN_ROLE,
    SAGEMAKER_EXECUTION_ROLE,
    role_name,
)
from infra.plan import UNKNOWN, Plan
from tests.unit.harness import plan_component

ACCOUNT = "123456789012"
PREFIX = "mlops-platform-test"
REGION = "eu-west-1"
TAGS = {"owner": "ml-team", "environment": "dev"}
REPO = "acme/churn-model"
ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
SHARED_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
BOTH_MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
OIDC_SUB = "token.actions.githubusercontent.com:sub"
OIDC_AUD = "token.actions.githubusercontent.com:aud"


def make_args(**overrides: Any) -> RolesArgs:
    base = RolesArgs(
        prefix=PREFIX,
        tags=TAGS,
        account_id=ACCOUNT,
        region=REGION,
        environment="dev",
        github_repository=REPO,
    )
    return replace(base, **overrides)


def plan_roles(args: RolesArgs, *, preview: bool, seen: dict[str, Any] | None = None) -> Plan:
    def program() -> None:
        roles = Roles("iam", args)
        if seen is not None:
            seen["component"] = roles
        for key in (
            "sagemaker_role_arn",
            "deploy_role_arn",
            "preview_role_arn",
            "monitoring_role_arn",
            "oidc_provider_arn",
            "deploy_role_name",
            "preview_role_name",
        ):
            pulumi.export(key, getattr(roles, key))

    return plan_component(program, region=REGION, preview=preview)


def trust(plan: Plan, role_const: str) -> dict[str, Any]:
    doc = plan.get(f"iam-{role_const}").inputs["assumeRolePolicy"]
    assert doc != UNKNOWN, "trust policies must be known at preview, for the policy pack"
    return json.loads(doc)


def only_statement(doc: dict[str, Any]) -> dict[str, Any]:
    assert doc["Version"] == "2012-10-17"
    assert len(doc["Statement"]) == 1
    return doc["Statement"][0]


# ---------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    "action",
    ["*", "*:*", "s3:*", "iam:*", "*:GetObject", "kms:"],
)
def test_wildcard_checker_flags_full_and_service_wildcards(action: str) -> None:
    nested = {"Statement": [{"Sid": "A", "Action": ["s3:GetObject", action]}]}
    assert wildcard_actions(nested) == [action]
    assert wildcard_actions(json.dumps(nested)) == [action]


def test_wildcard_checker_finds_actions_however_deep_and_as_strings() -> None:
    doc = {"Statement": {"Action": "logs:PutLogEvents", "Nested": [{"Deep": {"Action": "*"}}]}}
    assert wildcard_actions(doc) == ["*"]
    assert wildcard_actions({"Statement": [{"NotAction": "ec2:*"}]}) == ["ec2:*"]


def test_wildcard_checker_accepts_explicit_and_prefixed_actions() -> None:
    doc = {"Statement": [{"Action": ["s3:GetObject", "ec2:Describe*", "kms:Decrypt"]}]}
    assert wildcard_actions(doc) == []


def test_not_action_checker() -> None:
    assert not_actions({"Statement": [{"NotAction": ["iam:*"]}]}) == ["['iam:*']"]
    assert not_actions({"Statement": [{"Action": ["iam:GetRole"]}]}) == []


@pytest.mark.parametrize(
    ("region", "partition"),
    [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_partition_follows_region(region: str, partition: str) -> None:
    assert partition_for(region) == partition


def test_sagemaker_trust_is_the_service_for_this_account_only() -> None:
    statement = only_statement(sagemaker_trust_policy(ACCOUNT))
    assert statement["Sid"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_github_trust_is_exact_subject_and_sts_audience() -> None:
    provider = oidc_provider_arn_for("aws", ACCOUNT)
    statement = only_statement(
        github_trust_policy(provider, deploy_subject(REPO, "prod"), "Deploy")
    )
    assert statement["Sid"] == "Deploy"
    assert statement["Principal"] == {"Federated": provider}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # Exact match only: one operator, no StringLike, no wildcard anywhere in the subject.
    assert statement["Condition"] == {
        "StringEquals": {OIDC_AUD: STS_AUDIENCE, OIDC_SUB: f"repo:{REPO}:environment:prod"}
    }
    assert "*" not in json.dumps(statement["Condition"])


def test_subjects() -> None:
    assert deploy_subject("o/r", "staging") == "repo:o/r:environment:staging"
    assert preview_subject("o/r") == "repo:o/r:pull_request"


def test_monitoring_trust_is_account_principals_with_mfa() -> None:
    statement = only_statement(account_mfa_trust_policy("aws-cn", ACCOUNT))
    assert statement["Principal"] == {"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_oidc_provider_arn_is_named_after_its_url() -> None:
    assert oidc_provider_arn_for("aws", ACCOUNT) == SHARED_PROVIDER
    assert GITHUB_OIDC_URL.endswith(SHARED_PROVIDER.rsplit("/", 1)[-1])


# ---------------------------------------------------------------------------- component


@BOTH_MODES
def test_roles_are_named_tagged_and_short_lived(preview: bool) -> None:
    plan = plan_roles(make_args(), preview=preview)
    roles = plan.by_type(ROLE)
    expected = {
        role_name(PREFIX, r)
        for r in (
            SAGEMAKER_EXECUTION_ROLE,
            DEPLOY_ROLE,
            PREVIEW_ROLE,
            MONITORING_ROLE,
            RETRAIN_ROLE,
        )
    }
    assert {r.inputs["name"] for r in roles} == expected
    for role in roles:
        assert role.inputs["maxSessionDuration"] == MAX_SESSION_SECONDS
        assert role.inputs["tags"] == {**TAGS, "Name": role.inputs["name"]}
        assert role.inputs["description"]
        # Roles carry trust only; permissions are attached by infra.permissions.
        assert "inlinePolicies" not in role.inputs
        assert "managedPolicyArns" not in role.inputs


@BOTH_MODES
def test_every_child_is_parented_to_the_component(preview: bool) -> None:
    plan = plan_roles(make_args(), preview=preview)
    component = plan.get("iam")
    assert component.type == "mlops:iam:Roles"
    children = plan.children(component)
    assert len(children) == len(plan.resources) - 1
    assert {c.name for c in children} >= {"iam-github-oidc", f"iam-{DEPLOY_ROLE}"}


@BOTH_MODES
def test_sagemaker_role_trust(preview: bool) -> None:
    statement = only_statement(
        trust(plan_roles(make_args(), preview=preview), "sagemaker-execution")
    )
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT


@BOTH_MODES
def test_created_oidc_provider_admits_only_sts(preview: bool) -> None:
    plan = plan_roles(make_args(), preview=preview)
    (provider,) = plan.by_type(OIDC)
    assert provider.inputs["url"] == GITHUB_OIDC_URL
    assert provider.inputs["clientIdLists"] == [STS_AUDIENCE]
    assert provider.inputs["tags"]["Name"].startswith(PREFIX)
    deploy = plan.get(f"iam-{DEPLOY_ROLE}")
    # The trust names the provider before it exists, so the role must wait for it.
    assert provider.urn in deploy.dependencies
    statement = only_statement(trust(plan, DEPLOY_ROLE))
    assert statement["Principal"] == {"Federated": SHARED_PROVIDER}


@BOTH_MODES
def test_shared_oidc_provider_is_used_not_created(preview: bool) -> None:
    other = "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com"
    plan = plan_roles(make_args(oidc_provider_arn=other), preview=preview)
    assert plan.by_type(OIDC) == []
    for role_const in (DEPLOY_ROLE, PREVIEW_ROLE):
        statement = only_statement(trust(plan, role_const))
        assert statement["Principal"] == {"Federated": other}
    if not preview:
        assert plan.outputs["oidc_provider_arn"] == other


@BOTH_MODES
def test_deploy_trust_is_the_stack_environment_by_default(preview: bool) -> None:
    statement = only_statement(trust(plan_roles(make_args(), preview=preview), DEPLOY_ROLE))
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {OIDC_AUD: STS_AUDIENCE, OIDC_SUB: f"repo:{REPO}:environment:dev"}
    }


@BOTH_MODES
def test_deploy_trust_uses_the_github_environment_when_set(preview: bool) -> None:
    plan = plan_roles(make_args(github_environment="production-eu"), preview=preview)
    condition = only_statement(trust(plan, DEPLOY_ROLE))["Condition"]["StringEquals"]
    assert condition[OIDC_SUB] == f"repo:{REPO}:environment:production-eu"


@BOTH_MODES
def test_preview_role_trusts_pull_requests_only(preview: bool) -> None:
    statement = only_statement(trust(plan_roles(make_args(), preview=preview), PREVIEW_ROLE))
    assert statement["Condition"] == {
        "StringEquals": {OIDC_AUD: STS_AUDIENCE, OIDC_SUB: f"repo:{REPO}:pull_request"}
    }


@BOTH_MODES
def test_preview_role_can_be_turned_off(preview: bool) -> None:
    on = plan_roles(make_args(), preview=preview)
    off = plan_roles(make_args(preview_from_pull_requests=False), preview=preview)
    assert len(off.by_type(ROLE)) == len(on.by_type(ROLE)) - 1
    assert role_name(PREFIX, PREVIEW_ROLE) not in {r.inputs["name"] for r in off.by_type(ROLE)}
    # The exported contract keeps the key, empty.
    assert off.outputs["preview_role_arn"] == ""
    assert off.outputs["preview_role_name"] == ""


@BOTH_MODES
def test_monitoring_role_requires_mfa(preview: bool) -> None:
    statement = only_statement(trust(plan_roles(make_args(), preview=preview), MONITORING_ROLE))
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


@BOTH_MODES
def test_no_trust_policy_has_a_wildcard_action(preview: bool) -> None:
    plan = plan_roles(make_args(), preview=preview)
    for role in plan.by_type(ROLE):
        assert wildcard_actions(role.inputs["assumeRolePolicy"]) == []
        statement = only_statement(json.loads(role.inputs["assumeRolePolicy"]))
        assert statement["Principal"] != "*"
        assert statement.get("Condition"), f"{role.name}: trust without a condition"


def test_outputs_resolve_to_the_roles() -> None:
    plan = plan_roles(make_args(), preview=False)
    for key, role_const in (
        ("sagemaker_role_arn", SAGEMAKER_EXECUTION_ROLE),
        ("deploy_role_arn", DEPLOY_ROLE),
        ("preview_role_arn", PREVIEW_ROLE),
        ("monitoring_role_arn", MONITORING_ROLE),
    ):
        assert plan.outputs[key] == f"arn:aws:iam::{ACCOUNT}:role/{role_name(PREFIX, role_const)}"
    assert plan.outputs["deploy_role_name"] == role_name(PREFIX, DEPLOY_ROLE)
    assert plan.outputs["oidc_provider_arn"] == SHARED_PROVIDER


def test_preview_outputs_are_unknown_until_created() -> None:
    plan = plan_roles(make_args(), preview=True)
    assert plan.outputs["deploy_role_arn"] == UNKNOWN


def test_registered_outputs_match_public_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: dict[str, Any] = {}
    original = pulumi.ComponentResource.register_outputs

    def record(self: pulumi.ComponentResource, outputs: Any) -> None:
        registered.update(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", record)
    seen: dict[str, Any] = {}
    plan_roles(make_args(), preview=False, seen=seen)
    public = {k for k, v in vars(seen["component"]).items() if isinstance(v, pulumi.Output)} - {
        "urn"
    }
    assert set(registered) == public
    assert {"sagemaker_role_arn", "deploy_role_arn", "preview_role_arn"} <= public
    assert {"monitoring_role_arn", "oidc_provider_arn"} <= public


@BOTH_MODES
def test_retrain_role_trusts_only_the_stacks_ml_environment(preview: bool) -> None:
    plan = plan_roles(make_args(), preview=preview)
    subjects = {}
    for role in plan.by_type(ROLE):
        policy = role.inputs["assumeRolePolicy"]
        if policy == UNKNOWN:
            return  # preview: the provider ARN it names is not known yet
        for statement in json.loads(policy)["Statement"]:
            condition = statement.get("Condition", {}).get("StringEquals", {})
            if "token.actions.githubusercontent.com:sub" in condition:
                assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
                subjects[role.inputs["name"].rsplit("-", 2)[-2:][-1]] = condition[
                    "token.actions.githubusercontent.com:sub"
                ]
    # A job that can assume the retraining role presents a token the deploy role refuses.
    assert subjects["retrain"].endswith(":environment:dev-ml")
    assert subjects["deploy"].endswith(":environment:dev")


def test_the_ml_environment_is_never_the_deploy_one() -> None:
    assert ml_environment("prod") == "prod-ml"
    assert ml_environment("prod", "ml-prod") == "ml-prod"
    with pytest.raises(ValueError, match="could assume the deploy role"):
        ml_environment("prod", "prod")
