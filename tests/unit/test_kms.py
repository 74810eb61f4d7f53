"""Keys: key policies as pure documents, and the component's graph under mocks."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.kms import (
    ADMIN_ACTIONS,
    USAGE_ACTIONS,
    Keys,
    KeysArgs,
    alias_name,
    aws_partition,
    data_key_policy,
    log_group_arn_patterns,
    logs_key_policy,
)
from infra.plan import UNKNOWN, CapturedResource, Plan
from tests.unit.harness import plan_component, spy_registered_outputs

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
TAGS = {"project": "mlops-platform", "environment": "dev"}
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-execution"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-ci-deploy"
KEY_TYPE = "aws:kms/key:Key"
ALIAS_TYPE = "aws:kms/alias:Alias"
USE_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}


def _run(program: Callable[[], Any], *, preview: bool = False) -> Plan:
    return plan_component(program, region=REGION, preview=preview)


def _args(**overrides: Any) -> KeysArgs:
    values: dict[str, Any] = {
        "prefix": PREFIX,
        "account_id": ACCOUNT,
        "region": REGION,
        "tags": TAGS,
        "user_role_arns": [ROLE_A, ROLE_B],
    }
    return KeysArgs(**{**values, **overrides})


def _policy(resource: CapturedResource) -> dict[str, Any]:
    return json.loads(resource.inputs["policy"])


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principals(statement: dict[str, Any], kind: str) -> list[str]:
    principal = statement["Principal"]
    assert isinstance(principal, dict), f"{statement['Sid']}: principal must name someone"
    return _listed(principal.get(kind, []))


def _assert_named_principals_only(policy: dict[str, Any]) -> None:
    """The invariants every key policy must keep, whatever its inputs."""
    sids = [s.get("Sid") for s in policy["Statement"]]
    assert all(sids), "every statement has a Sid"
    assert len(set(sids)) == len(sids), "Sids are unique"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = _listed(statement["Action"])
        assert "kms:*" not in actions and "*" not in actions
        principal = statement["Principal"]
        assert principal != "*"
        for values in principal.values():
            assert "*" not in _listed(values)


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


# ---------------------------------------------------------------------------- pure


def test_root_administers_but_cannot_use_the_key() -> None:
    policy = data_key_policy(account_id=ACCOUNT, region=REGION, user_role_arns=[ROLE_A])
    root = [
        s
        for s in policy["Statement"]
        if f"arn:aws:iam::{ACCOUNT}:root" in _principals(s, "AWS") and "Condition" not in s
    ]
    assert len(root) == 1
    actions = set(_listed(root[0]["Action"]))
    # Administration that keeps the key manageable...
    for needed in ("kms:Put*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Enable*"):
        assert needed in actions
    # ...and no usage, not even indirectly through grants.
    assert not actions & (USE_ACTIONS | {"kms:CreateGrant", "kms:Create*"})


def test_named_roles_use_the_key_and_grant_only_for_aws_resources() -> None:
    policy = data_key_policy(account_id=ACCOUNT, region=REGION, user_role_arns=[ROLE_B, ROLE_A])
    users = [s for s in policy["Statement"] if ROLE_A in _principals(s, "AWS")]
    granted = {a for s in users for a in _listed(s["Action"])}
    assert USE_ACTIONS | {"kms:DescribeKey", "kms:CreateGrant"} <= granted
    for statement in users:
        assert sorted(_principals(statement, "AWS")) == sorted([ROLE_A, ROLE_B])
        if "kms:CreateGrant" in _listed(statement["Action"]):
            assert _listed(statement["Action"]) == ["kms:CreateGrant"]
            assert statement["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_data_key_admits_no_service_principal() -> None:
    policy = data_key_policy(account_id=ACCOUNT, region=REGION, user_role_arns=[ROLE_A])
    assert all("Service" not in s["Principal"] for s in policy["Statement"])


def test_logs_key_admits_logs_for_the_stack_log_groups_only() -> None:
    policy = logs_key_policy(
        account_id=ACCOUNT, region=REGION, prefix=PREFIX, user_role_arns=[ROLE_A]
    )
    logs = [s for s in policy["Statement"] if f"logs.{REGION}.amazonaws.com" in
            _principals(s, "Service")]  # fmt: skip
    assert len(logs) == 1
    patterns = logs[0]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert patterns == log_group_arn_patterns(account_id=ACCOUNT, region=REGION, prefix=PREFIX)
    assert {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"} <= set(logs[0]["Action"])


def _arn_like(pattern: str, value: str) -> bool:
    """IAM ArnLike: `*` matches any run of characters, `?` one character."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


@pytest.mark.parametrize(
    ("group", "allowed"),
    [
        (f"{PREFIX}-flow-logs", True),
        (f"/mlops/{PREFIX}/pipeline", True),
        (f"/mlops/{PREFIX}/vpc-flow-logs", True),
        (f"/aws/sagemaker/Endpoints/{PREFIX}-endpoint", True),
        ("/aws/sagemaker/Endpoints/other-stack-endpoint", False),
        ("/mlops/other-stack/pipeline", False),
        (f"other-{PREFIX}", False),
    ],
)
def test_logs_key_covers_the_stack_log_groups(group: str, allowed: bool) -> None:
    patterns = log_group_arn_patterns(account_id=ACCOUNT, region=REGION, prefix=PREFIX)
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    assert any(_arn_like(p, arn) for p in patterns) is allowed
    other_account = f"arn:aws:logs:{REGION}:210987654321:log-group:{group}"
    assert not any(_arn_like(p, other_account) for p in patterns)


@pytest.mark.parametrize(
    "service",
    ["sns.amazonaws.com", "sqs.amazonaws.com", "events.amazonaws.com", "cloudwatch.amazonaws.com"],
)
def test_logs_key_admits_messaging_services_of_this_account(service: str) -> None:
    policy = logs_key_policy(account_id=ACCOUNT, region=REGION, prefix=PREFIX, user_role_arns=[])
    statements = [s for s in policy["Statement"] if service in _principals(s, "Service")]
    assert len(statements) == 1
    statement = statements[0]
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_no_roles_leaves_only_administration_and_services() -> None:
    data = data_key_policy(account_id=ACCOUNT, region=REGION, user_role_arns=[])
    assert [s["Sid"] for s in data["Statement"]] == [
        "AccountAdministersKey",
        "AccountPrincipalsThroughS3",
    ]
    logs = logs_key_policy(account_id=ACCOUNT, region=REGION, prefix=PREFIX, user_role_arns=[])
    assert all("AWS" not in s["Principal"] or s["Sid"] == "AccountAdministersKey"
               for s in logs["Statement"])  # fmt: skip


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        "arn:aws:iam::*:role/x",
        f"arn:aws:iam::{ACCOUNT}:role/*",
        ACCOUNT,
    ],
)
def test_key_users_must_be_role_arns(bad: str) -> None:
    with pytest.raises(ValueError, match="IAM role ARNs"):
        data_key_policy(account_id=ACCOUNT, region=REGION, user_role_arns=[ROLE_A, bad])


@pytest.mark.parametrize(
    ("region", "partition", "logs_principal"),
    [
        ("eu-west-1", "aws", "logs.eu-west-1.amazonaws.com"),
        ("cn-north-1", "aws-cn", "logs.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "logs.us-gov-west-1.amazonaws.com"),
    ],
)
def test_partitions(region: str, partition: str, logs_principal: str) -> None:
    assert aws_partition(region)[0] == partition
    policy = logs_key_policy(account_id=ACCOUNT, region=region, prefix=PREFIX, user_role_arns=[])
    statements = _by_sid(policy)
    assert statements["AccountAdministersKey"]["Principal"]["AWS"] == (
        f"arn:{partition}:iam::{ACCOUNT}:root"
    )
    logs = statements["CloudWatchLogsForStackLogGroups"]
    assert logs["Principal"]["Service"] == logs_principal
    for pattern in logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]:
        assert pattern.startswith(f"arn:{partition}:logs:{region}:{ACCOUNT}:log-group:")


def test_alias_names() -> None:
    assert alias_name(PREFIX, "data") == f"alias/{PREFIX}-data"
    long = alias_name("p" * 300, "logs")
    assert long.startswith("alias/") and len(long) <= 256


_role_names = st.from_regex(r"[A-Za-z0-9+=,.@_-]{1,40}(/[A-Za-z0-9_-]{1,20})?", fullmatch=True)
_accounts = st.from_regex(r"\d{12}", fullmatch=True)


@given(
    account=_accounts,
    names=st.lists(_role_names, max_size=6),
    region=st.sampled_from(["eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"]),
    prefix=st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True),
)
def test_key_policies_never_open_the_key(
    account: str, names: list[str], region: str, prefix: str
) -> None:
    partition, _ = aws_partition(region)
    roles = [f"arn:{partition}:iam::{account}:role/{name}" for name in names]
    for policy in (
        data_key_policy(account_id=account, region=region, user_role_arns=roles),
        logs_key_policy(account_id=account, region=region, prefix=prefix, user_role_arns=roles),
    ):
        _assert_named_principals_only(policy)
        statements = _by_sid(policy)
        assert set(statements["AccountAdministersKey"]["Action"]) == set(ADMIN_ACTIONS)
        users = statements.get("NamedRolesUseKey")
        if roles:
            assert users is not None
            assert users["Principal"]["AWS"] == sorted(set(roles))
            assert users["Action"] == list(USAGE_ACTIONS)
        else:
            assert users is None
        # Service principals are always pinned by a condition.
        for statement in policy["Statement"]:
            if "Service" in statement["Principal"]:
                assert statement.get("Condition")


# ---------------------------------------------------------------------------- component


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """What the component passes to register_outputs."""
    yield spy_registered_outputs(monkeypatch, Keys)


@pytest.mark.parametrize("preview", [False, True])
def test_keys_are_rotated_and_deletion_waits_30_days(preview: bool) -> None:
    plan = _run(lambda: Keys("keys", _args()), preview=preview)
    keys = plan.by_type(KEY_TYPE)
    assert sorted(k.name for k in keys) == ["keys-data", "keys-logs"]
    for key in keys:
        assert key.inputs["enableKeyRotation"] is True
        assert "rotationPeriodInDays" not in key.inputs  # AWS's default yearly period
        assert key.inputs["deletionWindowInDays"] == 30
        assert key.inputs["multiRegion"] is False
        assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
        assert key.inputs["tags"]["project"] == TAGS["project"]
        assert key.inputs["tags"]["Name"].startswith(PREFIX)
        # Role ARNs given as plain strings: the policy is known even at preview.
        _assert_named_principals_only(_policy(key))


@pytest.mark.parametrize("preview", [False, True])
def test_key_policies_in_the_graph(preview: bool) -> None:
    plan = _run(lambda: Keys("keys", _args()), preview=preview)
    data = _by_sid(_policy(plan.get("keys-data")))
    logs = _by_sid(_policy(plan.get("keys-logs")))
    assert data["NamedRolesUseKey"]["Principal"]["AWS"] == sorted([ROLE_A, ROLE_B])
    assert logs["NamedRolesUseKey"]["Principal"]["AWS"] == sorted([ROLE_A, ROLE_B])
    assert not any("Service" in s["Principal"] for s in data.values())
    assert "CloudWatchLogsForStackLogGroups" in logs
    assert "MessagingServicesInAccount" in logs


@pytest.mark.parametrize("preview", [False, True])
def test_aliases_point_at_their_keys(preview: bool) -> None:
    plan = _run(lambda: Keys("keys", _args()), preview=preview)
    for purpose in ("data", "logs"):
        alias = plan.get(f"keys-{purpose}-alias")
        key = plan.get(f"keys-{purpose}")
        assert alias.type == ALIAS_TYPE
        assert alias.inputs["name"] == f"alias/{PREFIX}-{purpose}"
        assert key.urn in alias.property_dependencies["targetKeyId"]
        if not preview:
            assert alias.inputs["targetKeyId"] == key.outputs["keyId"]


@pytest.mark.parametrize("preview", [False, True])
def test_children_are_parented(preview: bool) -> None:
    plan = _run(lambda: Keys("keys", _args()), preview=preview)
    component = plan.get("keys")
    assert component.type == "mlops:kms:Keys"
    children = plan.children(component)
    assert sorted(c.name for c in children) == [
        "keys-data",
        "keys-data-alias",
        "keys-logs",
        "keys-logs-alias",
    ]


@pytest.mark.parametrize("preview", [False, True])
def test_keys_wait_for_the_roles_they_name(preview: bool) -> None:
    """KMS rejects a policy naming a role that does not exist yet: the key must depend
    on the role, which passing the role's arn Output achieves."""
    import pulumi_aws as aws

    def program() -> None:
        role = aws.iam.Role("role", name=f"{PREFIX}-sagemaker-execution", assume_role_policy="{}")
        Keys("keys", _args(user_role_arns=[role.arn, ROLE_B]))

    plan = _run(program, preview=preview)
    role = plan.get("role")
    for key in plan.by_type(KEY_TYPE):
        assert role.urn in key.property_dependencies["policy"]
        assert role.urn in key.dependencies
        if preview:
            assert key.inputs["policy"] == UNKNOWN  # the role ARN is not known yet
        else:
            principals = _by_sid(_policy(key))["NamedRolesUseKey"]["Principal"]["AWS"]
            assert role.outputs["arn"] in principals


@pytest.mark.parametrize("preview", [False, True])
def test_registered_outputs(preview: bool, registered: dict[str, Any]) -> None:
    attributes: list[str] = []

    def program() -> None:
        keys = Keys("keys", _args())
        attributes.extend(
            n for n, v in vars(keys).items()
            if isinstance(v, pulumi.Output) and not n.startswith("_") and n != "urn"
        )  # fmt: skip
        for attr in attributes:
            pulumi.export(attr, getattr(keys, attr))

    plan = _run(program, preview=preview)
    assert (
        set(registered)
        == set(attributes)
        == {
            "data_key_arn",
            "data_key_id",
            "data_key_alias",
            "logs_key_arn",
            "logs_key_id",
            "logs_key_alias",
        }
    )
    for purpose in ("data", "logs"):
        key = plan.get(f"keys-{purpose}")
        assert (
            plan.outputs[f"{purpose}_key_alias"] == plan.get(f"keys-{purpose}-alias").inputs["name"]
        )
        if preview:
            assert plan.outputs[f"{purpose}_key_arn"] == UNKNOWN
        else:
            assert plan.outputs[f"{purpose}_key_arn"] == key.outputs["arn"]
            assert plan.outputs[f"{purpose}_key_id"] == key.outputs["keyId"]
            assert plan.outputs[f"{purpose}_key_arn"].endswith(plan.outputs[f"{purpose}_key_id"])


def test_account_principals_use_the_data_key_only_through_s3() -> None:
    """People and CI jobs with bucket permissions can read and write encrypted objects, but
    cannot call KMS directly: the use is bound to S3 in the stack's region and account."""
    statement = _by_sid(data_key_policy(account_id=ACCOUNT, region=REGION, user_role_arns=[]))[
        "AccountPrincipalsThroughS3"
    ]
    assert statement["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com",
        "kms:CallerAccount": ACCOUNT,
    }
    assert "kms:CreateGrant" not in statement["Action"]
    assert not any(a.startswith(("kms:Put", "kms:Schedule")) for a in statement["Action"])
