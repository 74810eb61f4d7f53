"""`infra.permissions`: policy documents (pure) and the `Permissions` component."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import parliament
import pulumi
import pytest

from infra.backend import PulumiBackend
from infra.iam import Roles, RolesArgs, not_actions, wildcard_actions
from infra.naming import FLOW_LOGS_ROLE, SAGEMAKER_EXECUTION_ROLE, role_name
from infra.permissions import (
    DEPLOY_POLICY_PARTS,
    SAGEMAKER_METRIC_NAMESPACES,
    Permissions,
    PermissionsArgs,
    Scope,
    deploy_policies,
    monitoring_policy,
    preview_policy,
    sagemaker_execution_policy,
)
from infra.plan import UNKNOWN, Plan
from infra.policy_document import INLINE_POLICY_LIMIT, MANAGED_POLICY_LIMIT, policy_size
from tests.unit.harness import plan_component

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PREFIX = "mlops-platform-test"
SCOPE = Scope("aws", REGION, ACCOUNT, PREFIX)
# The longest prefix StackConfig allows: project and stack names of 31 characters.
LONG_SCOPE = Scope("aws-us-gov", "us-gov-west-1", ACCOUNT, "p" * 31 + "-" + "s" * 31)
DATASETS = f"arn:aws:s3:::{PREFIX}-datasets-{ACCOUNT}-{REGION}"
MODELS = f"arn:aws:s3:::{PREFIX}-models-{ACCOUNT}-{REGION}"
CAPTURE = f"arn:aws:s3:::{PREFIX}-capture-{ACCOUNT}-{REGION}"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
REPOSITORY = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{PREFIX}-models"
VPC = "vpc-0abc1234def567890"
SERVICES = {service["prefix"]: service for service in parliament.iam_definition}
BOTH_MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])

# Wildcard actions allowed on "Resource": "*", each with its reason in the module.
STAR_WILDCARDS = {"ec2:Describe*"}  # ~20 read-only Describe calls of the provider's VPC reads
READ_VERBS = ("Get", "List", "Describe")


def sagemaker_doc(scope: Scope = SCOPE, vpc_id: str | None = VPC) -> dict[str, Any]:
    return sagemaker_execution_policy(
        scope,
        datasets_bucket_arn=DATASETS,
        models_bucket_arn=MODELS,
        capture_bucket_arn=CAPTURE,
        kms_key_arns=[KEY],
        repository_arn=REPOSITORY,
        vpc_id=vpc_id,
    )


def all_documents(scope: Scope = SCOPE) -> dict[str, dict[str, Any]]:
    """Every variant; those with a network also use a self-managed Pulumi backend."""
    docs: dict[str, dict[str, Any]] = {}
    for network in (True, False):
        backend = backend_for(scope) if network else None
        docs[f"sagemaker-{network}"] = sagemaker_doc(scope, VPC if network else None)
        docs[f"preview-{network}"] = preview_policy(scope, network=network, backend=backend)
        parts = deploy_policies(scope, network=network, backend=backend)
        for part, doc in parts.items():
            docs[f"deploy-{part}-{network}"] = doc
    docs["monitoring"] = monitoring_policy(scope)
    return docs


STATE_BUCKET = "acme-pulumi-state"


def backend_for(scope: Scope) -> PulumiBackend:
    key = f"arn:{scope.partition}:kms:{scope.region}:{ACCOUNT}:key/{'0' * 8}-{'1' * 4}-{'2' * 4}"
    return PulumiBackend(
        scope.partition,
        STATE_BUCKET,
        f"{key}-{'3' * 4}-{'4' * 12}",
        project="p" * 31 if scope.prefix.startswith("p" * 31) else "mlops-platform",
        stack="s" * 31 if scope.prefix.startswith("p" * 31) else "test",
    )


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    assert doc["Version"] == "2012-10-17"
    return list(doc["Statement"])


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def actions_of(doc: dict[str, Any]) -> list[str]:
    return [a for s in statements(doc) for a in as_list(s["Action"])]


def by_sid(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements(doc) if s["Sid"] == sid]
    return found


def granting(doc: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in statements(doc) if action in as_list(s["Action"])]


# ---------------------------------------------------------------------------- every document


@pytest.mark.parametrize("scope", [SCOPE, LONG_SCOPE], ids=["short", "longest-prefix"])
def test_no_document_has_a_wildcard_action_or_not_action(scope: Scope) -> None:
    for label, doc in all_documents(scope).items():
        assert wildcard_actions(doc) == [], label
        assert not_actions(doc) == [], label
        assert not any(a.split(":")[0] == "iam" and "*" in a for a in actions_of(doc)), label


def test_every_statement_allows_with_a_unique_sid() -> None:
    for label, doc in all_documents().items():
        sids = [s["Sid"] for s in statements(doc)]
        assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), label
        assert len(sids) == len(set(sids)), label
        assert {s["Effect"] for s in statements(doc)} == {"Allow"}, label
        assert all(s["Action"] for s in statements(doc)), label


def test_star_resource_only_where_aws_requires_it() -> None:
    for label, doc in all_documents().items():
        for statement in statements(doc):
            if "*" in as_list(statement["Resource"]):
                assert as_list(statement["Resource"]) == ["*"], label
                scoped = [
                    a
                    for a in as_list(statement["Action"])
                    if a not in STAR_WILDCARDS and not star_only(a)
                ]
                assert not scoped, f"{label}/{statement['Sid']}: {scoped} on Resource *"


def star_only(action: str) -> bool:
    """AWS's Service Authorization Reference gives the action no resource type: IAM
    authorises it on "*" and nothing narrower."""
    service, name = action.split(":")
    (privilege,) = [
        p for p in SERVICES[service]["privileges"] if p["privilege"].lower() == name.lower()
    ]
    return all(not r["resource_type"] for r in privilege["resource_types"])


def test_star_only_reads_the_reference() -> None:
    assert star_only("ecr:GetAuthorizationToken")
    assert star_only("sns:Unsubscribe")
    assert not star_only("sns:Subscribe")
    assert not star_only("iam:CreateRole")


def test_every_arn_stays_in_the_stack_partition_region_and_account() -> None:
    given = (DATASETS, MODELS, CAPTURE, KEY, REPOSITORY)  # inputs, not built here
    for label, doc in all_documents(LONG_SCOPE).items():
        for statement in statements(doc):
            for arn in as_list(statement["Resource"]):
                if arn == "*" or arn.startswith(given):
                    continue
                partition, service, region, account = arn.split(":")[1:5]
                assert partition == "aws-us-gov", f"{label}: {arn}"
                assert region in ("", LONG_SCOPE.region), f"{label}: {arn}"
                assert account in ("", ACCOUNT, "aws", "*"), f"{label}: {arn}"
                if account in ("aws", "*"):  # AWS-owned things the network references
                    assert service == "ec2", f"{label}: {arn}"


@pytest.mark.parametrize("scope", [SCOPE, LONG_SCOPE], ids=["short", "longest-prefix"])
def test_documents_fit_iam_size_quotas(scope: Scope) -> None:
    docs = all_documents(scope)
    for label, doc in docs.items():
        limit = MANAGED_POLICY_LIMIT if label.startswith("deploy") else INLINE_POLICY_LIMIT
        assert policy_size(doc) <= limit, f"{label}: {policy_size(doc)} > {limit}"
    # Each role's inline policies together stay under the per-role quota.
    assert policy_size(docs["sagemaker-True"]) <= INLINE_POLICY_LIMIT
    assert policy_size(docs["preview-True"]) <= INLINE_POLICY_LIMIT


# ---------------------------------------------------------------------------- SageMaker role


def test_datasets_are_read_only_except_processing_outputs() -> None:
    doc = sagemaker_doc()
    for action in ("s3:PutObject", "s3:DeleteObject"):
        resources = [r for s in granting(doc, action) for r in as_list(s["Resource"])]
        dataset_resources = [r for r in resources if r.startswith(DATASETS)]
        assert dataset_resources == [f"{DATASETS}/processing/*"], action
    assert as_list(by_sid(doc, "ReadDatasets")["Resource"]) == [f"{DATASETS}/*"]


def test_models_are_read_write_and_capture_is_never_deleted() -> None:
    doc = sagemaker_doc()
    models = by_sid(doc, "ReadWriteModels")
    assert as_list(models["Resource"]) == [f"{MODELS}/*"]
    assert {"s3:GetObject", "s3:PutObject"} <= set(models["Action"])
    capture = by_sid(doc, "ReadWriteCapture")
    assert as_list(capture["Resource"]) == [f"{CAPTURE}/*"]
    assert not any(a.startswith("s3:Delete") for a in capture["Action"])


def test_versioned_history_cannot_be_destroyed() -> None:
    for network in (True, False):
        actions = actions_of(sagemaker_doc(vpc_id=VPC if network else None))
        assert "s3:DeleteObjectVersion" not in actions
        assert "s3:PutBucketVersioning" not in actions
        assert "s3:PutLifecycleConfiguration" not in actions


def test_s3_access_is_limited_to_the_three_buckets() -> None:
    doc = sagemaker_doc()
    buckets = (DATASETS, MODELS, CAPTURE)
    for statement in statements(doc):
        if any(a.startswith("s3:") for a in as_list(statement["Action"])):
            for arn in as_list(statement["Resource"]):
                assert arn.startswith(buckets), arn


def test_key_use_and_grants_for_aws_resources_only() -> None:
    doc = sagemaker_doc()
    use = by_sid(doc, "UseDataKeys")
    assert set(use["Action"]) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                                  "kms:DescribeKey"}  # fmt: skip
    assert use["Resource"] == [KEY]
    (grant,) = granting(doc, "kms:CreateGrant")
    assert grant["Resource"] == [KEY]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_images_come_from_the_stack_repository() -> None:
    doc = sagemaker_doc()
    pull = by_sid(doc, "PullStackImages")
    assert pull["Resource"] == REPOSITORY
    assert set(pull["Action"]) == {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                   "ecr:BatchCheckLayerAvailability"}  # fmt: skip
    login = by_sid(doc, "EcrLogin")
    assert (login["Action"], login["Resource"]) == (["ecr:GetAuthorizationToken"], "*")


def test_logs_only_in_sagemaker_log_groups() -> None:
    logs = by_sid(sagemaker_doc(), "WriteSageMakerLogs")
    assert set(logs["Action"]) == {"logs:CreateLogGroup", "logs:CreateLogStream",
                                   "logs:PutLogEvents", "logs:DescribeLogStreams"}  # fmt: skip
    for arn in logs["Resource"]:
        assert arn.startswith(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/")


def test_metrics_only_in_known_namespaces() -> None:
    (put,) = granting(sagemaker_doc(), "cloudwatch:PutMetricData")
    assert put["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": list(SAGEMAKER_METRIC_NAMESPACES)}
    }
    assert set(SAGEMAKER_METRIC_NAMESPACES) == {
        "MLOps",
        "/aws/sagemaker/TrainingJobs",
        "/aws/sagemaker/Endpoints",
    }


def test_network_interfaces_only_in_the_stack_vpc() -> None:
    doc = sagemaker_doc(vpc_id=VPC)
    vpc_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"
    for action in ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                   "ec2:DeleteNetworkInterfacePermission"):  # fmt: skip
        (statement,) = granting(doc, action)
        assert statement["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc_arn}}
    create = granting(doc, "ec2:CreateNetworkInterface")
    conditioned = [s for s in create if "Condition" in s]
    (in_vpc,) = conditioned
    assert in_vpc["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc_arn}}
    assert sorted(in_vpc["Resource"]) == [
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/*",
        f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/*",
    ]
    (unconditioned,) = [s for s in create if "Condition" not in s]
    assert unconditioned["Resource"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*"


def test_no_ec2_permission_without_a_vpc() -> None:
    assert not [a for a in actions_of(sagemaker_doc(vpc_id=None)) if a.startswith("ec2:")]


# ---------------------------------------------------------------------------- deploy role


def deploy_statements(**kwargs: Any) -> list[dict[str, Any]]:
    kwargs.setdefault("network", True)
    docs = deploy_policies(SCOPE, **kwargs)
    assert tuple(docs) == DEPLOY_POLICY_PARTS
    return [s for doc in docs.values() for s in statements(doc)]


def test_deploy_resources_are_the_stack_own() -> None:
    ids = re.compile(r"(key|scalable-target)/\*$")
    aws_owned = re.compile(r":ec2:[^:]+:(aws|\*):")
    for statement in deploy_statements():
        for arn in as_list(statement["Resource"]):
            if arn == "*" or aws_owned.search(arn) or arn.endswith(f"{ACCOUNT}:*"):
                continue  # Resource "*" is checked above; EC2 ids cannot be named
            if ids.search(arn):
                # Generated ids: scoped by a condition instead (tag or service namespace).
                assert statement.get("Condition"), statement["Sid"]
                continue
            assert (
                PREFIX in arn
                or "token.actions.githubusercontent.com" in arn
                or ("AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in arn)
            ), f"{statement['Sid']}: {arn}"


def test_deploy_buckets_and_roles_by_prefix_pattern() -> None:
    found = {s["Sid"]: s for s in deploy_statements()}
    assert found["StackBuckets"]["Resource"] == [f"arn:aws:s3:::{PREFIX}-*"]
    assert found["StackRoles"]["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-*"]
    assert found["StackSageMaker"]["Resource"] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:*/{PREFIX}-*"
    ]
    # Managing configuration never means reading data.
    assert "s3:GetObject" not in found["StackBuckets"]["Action"]


def test_pass_role_only_named_roles_to_one_service_each() -> None:
    passes = [s for s in deploy_statements() if "iam:PassRole" in s["Action"]]
    assert {(s["Resource"], s["Condition"]["StringEquals"]["iam:PassedToService"])
            for s in passes} == {  # fmt: skip
        (f"arn:aws:iam::{ACCOUNT}:role/{role_name(PREFIX, SAGEMAKER_EXECUTION_ROLE)}",
         "sagemaker.amazonaws.com"),
        (f"arn:aws:iam::{ACCOUNT}:role/{role_name(PREFIX, FLOW_LOGS_ROLE)}",
         "vpc-flow-logs.amazonaws.com"),
    }  # fmt: skip
    for statement in passes:
        assert statement["Action"] == ["iam:PassRole"]
        assert "*" not in statement["Resource"]
    no_network = [s for s in deploy_statements(network=False) if "iam:PassRole" in s["Action"]]
    assert len(no_network) == 1


def test_extra_pass_roles() -> None:
    extra = {f"{PREFIX}-events": "events.amazonaws.com"}
    passes = [s for s in deploy_statements(pass_roles=extra) if "iam:PassRole" in s["Action"]]
    assert [s["Resource"] for s in passes] == [f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-events"]


def test_policies_attach_only_stack_managed_policies() -> None:
    (attach,) = [s for s in deploy_statements() if "iam:AttachRolePolicy" in s["Action"]]
    assert attach["Condition"] == {
        "ArnLike": {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-*"},
        "StringEquals": {
            "iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-role-boundary"
        },
    }


def test_keys_are_scoped_by_their_name_tag() -> None:
    tagged = {"StringLike": {"aws:ResourceTag/Name": f"{PREFIX}-*"}}
    for statement in deploy_statements():
        kms = [a for a in statement["Action"] if a.startswith("kms:")]
        if not kms or kms == ["kms:ListAliases"]:
            continue
        if statement["Sid"] == "StackKeyAliases":
            assert statement["Resource"] == [f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/{PREFIX}-*"]
        elif statement["Sid"] == "CreateTaggedKeys":
            assert statement["Condition"] == {"StringLike": {"aws:RequestTag/Name": f"{PREFIX}-*"}}
        elif statement["Sid"] == "TagNewKeys":
            assert statement["Condition"]["Null"] == {"aws:ResourceTag/Name": "true"}
        else:
            assert statement["Condition"]["StringLike"] == tagged["StringLike"], statement
    actions = [a for s in deploy_statements() for a in s["Action"]]
    assert "kms:DisableKeyRotation" not in actions
    assert "kms:Decrypt" not in actions


def test_identities_trust_and_keys_are_left_to_the_administrator() -> None:
    actions = {a for s in deploy_statements() for a in s["Action"]}
    assert "iam:GetOpenIDConnectProvider" in actions
    assert not {a for a in actions if "OpenIDConnectProvider" in a and not a.startswith(
        ("iam:Get", "iam:List"))}  # fmt: skip
    assert (
        not {
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:UpdateAssumeRolePolicy",
            "kms:CreateKey",
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
        }
        & actions
    )


def test_ec2_only_with_a_network() -> None:
    with_network = {a for s in deploy_statements(network=True) for a in s["Action"]}
    without = {a for s in deploy_statements(network=False) for a in s["Action"]}
    assert {"ec2:CreateVpc", "ec2:CreateFlowLogs", "ec2:Describe*"} <= with_network
    assert not {a for a in without if a.startswith("ec2:")}
    assert "ec2:RunInstances" not in with_network


# ---------------------------------------------------------------------------- read-only roles


@pytest.mark.parametrize("network", [True, False])
def test_preview_role_is_read_only_and_reads_no_data(network: bool) -> None:
    doc = preview_policy(SCOPE, network=network)
    for action in actions_of(doc):
        verb = action.split(":", 1)[1]
        assert verb.startswith(READ_VERBS), action
    actions = set(actions_of(doc))
    data_reads = {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "kms:Decrypt",
        "sqs:ReceiveMessage",
        "ecr:BatchGetImage",
        "logs:GetLogEvents",
    }
    assert not actions & data_reads
    assert ("ec2:Describe*" in actions) is network


def test_preview_reads_what_deploy_manages() -> None:
    preview = {a for s in statements(preview_policy(SCOPE, network=True)) for a in s["Action"]}
    deploy = {a for s in deploy_statements() for a in s["Action"]}
    assert preview <= deploy


def test_monitoring_role_reads_metrics_alarms_and_stack_logs() -> None:
    doc = monitoring_policy(SCOPE)
    for action in actions_of(doc):
        verb = action.split(":", 1)[1]
        assert verb.startswith((*READ_VERBS, "Filter", "StartQuery", "StopQuery")), action
    assert {
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "cloudwatch:DescribeAlarms",
    } <= set(actions_of(doc))
    logs = by_sid(doc, "ReadStackLogs")
    for arn in logs["Resource"]:
        name = arn.split(":log-group:", 1)[1]
        assert PREFIX in name, arn


# ---------------------------------------------------------------------------- component


def make_args(**overrides: Any) -> PermissionsArgs:
    base = PermissionsArgs(
        prefix=PREFIX,
        tags={"owner": "ml-team"},
        account_id=ACCOUNT,
        region=REGION,
        sagemaker_role_name=role_name(PREFIX, SAGEMAKER_EXECUTION_ROLE),
        deploy_role_name=f"{PREFIX}-ci-deploy",
        monitoring_role_name=f"{PREFIX}-monitoring-read",
        preview_role_name=f"{PREFIX}-ci-preview",
        datasets_bucket_arn=DATASETS,
        models_bucket_arn=MODELS,
        capture_bucket_arn=CAPTURE,
        data_kms_key_arn=KEY,
        repository_arn=REPOSITORY,
        vpc_id=VPC,
    )
    return replace(base, **overrides)


def run(program: Any, preview: bool) -> Plan:
    return plan_component(program, region=REGION, preview=preview)


def plan_permissions(args: PermissionsArgs, preview: bool) -> Plan:
    def program() -> None:
        permissions = Permissions("perm", args)
        pulumi.export("deploy_policy_arns", permissions.deploy_policy_arns)
        pulumi.export("preview_policy_name", permissions.preview_policy_name)

    return run(program, preview)


def wired_program(seen: dict[str, Any] | None = None) -> Any:
    """Roles -> Permissions, wired as stack.py does (role names from the Roles outputs)."""

    def program() -> None:
        roles = Roles(
            "iam",
            RolesArgs(
                prefix=PREFIX,
                tags={},
                account_id=ACCOUNT,
                region=REGION,
                environment="dev",
                github_repository="acme/ml",
            ),
        )
        permissions = Permissions(
            "perm",
            make_args(
                sagemaker_role_name=roles.sagemaker_role_name,
                deploy_role_name=roles.deploy_role_name,
                monitoring_role_name=roles.monitoring_role_name,
                preview_role_name=roles.preview_role_name,
            ),
        )
        if seen is not None:
            seen["component"] = permissions

    return program


@BOTH_MODES
def test_inline_policies_attach_to_the_roles(preview: bool) -> None:
    plan = run(wired_program(), preview)
    for policy, role in (
        ("perm-sagemaker", "iam-sagemaker-execution"),
        ("perm-preview", "iam-ci-preview"),
        ("perm-monitoring", "iam-monitoring-read"),
    ):
        assert plan.get(role).urn in plan.get(policy).property_dependencies["role"]
    for part in DEPLOY_POLICY_PARTS:
        attachment = plan.get(f"perm-deploy-{part}-attachment")
        assert plan.get("iam-ci-deploy").urn in attachment.property_dependencies["role"]
        assert plan.get(f"perm-deploy-{part}").urn in attachment.property_dependencies["policyArn"]


@BOTH_MODES
def test_children_are_parented(preview: bool) -> None:
    plan = plan_permissions(make_args(), preview)
    component = plan.get("perm")
    assert component.type == "mlops:iam:Permissions"
    assert len(plan.children(component)) == len(plan.resources) - 1
    # 3 inline policies, and the deploy parts as managed policies with attachments.
    assert len(plan.by_type("aws:iam/rolePolicy:RolePolicy")) == 3
    assert len(plan.by_type("aws:iam/policy:Policy")) == len(DEPLOY_POLICY_PARTS)
    assert len(plan.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")) == len(
        DEPLOY_POLICY_PARTS
    )


@BOTH_MODES
def test_documents_on_the_wire_are_the_pure_ones(preview: bool) -> None:
    plan = plan_permissions(make_args(), preview)
    assert json.loads(plan.get("perm-sagemaker").inputs["policy"]) == sagemaker_doc()
    assert json.loads(plan.get("perm-preview").inputs["policy"]) == preview_policy(
        SCOPE, network=True
    )
    assert json.loads(plan.get("perm-monitoring").inputs["policy"]) == monitoring_policy(SCOPE)
    expected = deploy_policies(SCOPE, network=True)
    for part in DEPLOY_POLICY_PARTS:
        policy = plan.get(f"perm-deploy-{part}")
        assert json.loads(policy.inputs["policy"]) == expected[part]
        assert policy.inputs["name"] == f"{PREFIX}-ci-deploy-{part}"
        assert policy.inputs["tags"] == {"owner": "ml-team", "Name": policy.inputs["name"]}
        assert wildcard_actions(policy.inputs["policy"]) == []


@BOTH_MODES
def test_without_a_vpc_there_is_no_ec2_anywhere(preview: bool) -> None:
    plan = plan_permissions(make_args(vpc_id=None), preview)
    for resource in plan.resources:
        if "policy" in resource.inputs:
            assert '"ec2:' not in resource.inputs["policy"], resource.name


@BOTH_MODES
def test_preview_policy_off_when_previews_are_disabled(preview: bool) -> None:
    plan = plan_permissions(make_args(preview_role_name=None), preview)
    assert sorted(r.name for r in plan.by_type("aws:iam/rolePolicy:RolePolicy")) == [
        "perm-monitoring",
        "perm-sagemaker",
    ]
    assert plan.outputs["preview_policy_name"] == ""


@BOTH_MODES
def test_shared_oidc_provider_and_extra_keys(preview: bool) -> None:
    other_key = KEY.replace("1234abcd", "9999ffff")
    plan = plan_permissions(make_args(extra_kms_key_arns=[other_key]), preview)
    use = by_sid(json.loads(plan.get("perm-sagemaker").inputs["policy"]), "UseDataKeys")
    assert use["Resource"] == [KEY, other_key]
    foundation = plan.get("perm-deploy-foundation").inputs["policy"]
    assert "iam:CreateOpenIDConnectProvider" not in foundation
    assert "iam:GetOpenIDConnectProvider" in foundation


def test_unknown_inputs_leave_the_document_unknown_in_preview() -> None:
    def program() -> None:
        import pulumi_aws as aws

        bucket = aws.s3.Bucket("models")  # its ARN is unknown until created
        Permissions("perm", make_args(models_bucket_arn=bucket.arn))

    plan = run(program, preview=True)
    sagemaker = plan.get("perm-sagemaker")
    assert sagemaker.inputs["policy"] == UNKNOWN
    assert plan.get("models").urn in sagemaker.property_dependencies["policy"]
    # The deploy documents depend on the account only: known, so the policy pack sees them.
    assert plan.get("perm-deploy-foundation").inputs["policy"] != UNKNOWN


def test_registered_outputs_match_public_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: dict[str, dict[str, Any]] = {}
    original = pulumi.ComponentResource.register_outputs

    def record(self: pulumi.ComponentResource, outputs: Any) -> None:
        registered[type(self).__name__] = dict(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", record)
    seen: dict[str, Any] = {}
    plan = run(wired_program(seen), preview=False)
    public = {k for k, v in vars(seen["component"]).items() if isinstance(v, pulumi.Output)}
    assert set(registered["Permissions"]) == public - {"urn"}
    del plan


def test_deploy_policy_arns_output() -> None:
    plan = plan_permissions(make_args(), preview=False)
    assert plan.outputs["deploy_policy_arns"] == [
        f"arn:aws:iam::{ACCOUNT}:policy/{PREFIX}-ci-deploy-{part}" for part in DEPLOY_POLICY_PARTS
    ]


def test_retrain_policy_is_data_plane_only() -> None:
    from infra.permissions import retrain_policy

    doc = retrain_policy(
        SCOPE,
        datasets_bucket_arn="arn:aws:s3:::p-datasets",
        models_bucket_arn="arn:aws:s3:::p-models",
        capture_bucket_arn="arn:aws:s3:::p-capture",
        queue_arn="arn:aws:sqs:eu-west-1:123456789012:p-retraining",
        sagemaker_role_arn="arn:aws:iam::123456789012:role/p-sagemaker-execution",
        repository_arn="arn:aws:ecr:eu-west-1:123456789012:repository/p-models",
    )
    actions = {a for st in doc["Statement"] for a in st["Action"]}
    assert not {a for a in actions if a.endswith("*")}, "explicit actions only"
    services = {a.split(":")[0] for a in actions}
    assert services == {"s3", "sqs", "sagemaker", "iam", "ecr", "cloudwatch"}
    assert {a for a in actions if a.startswith("iam:")} == {"iam:PassRole"}
    assert not {a for a in actions if a.startswith("sagemaker:") and "Endpoint" in a}
    writes = [st for st in doc["Statement"] if "s3:PutObject" in st["Action"]]
    assert all(r.startswith("arn:aws:s3:::p-models") for st in writes for r in st["Resource"])
    (passing,) = [st for st in doc["Statement"] if st["Action"] == ["iam:PassRole"]]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
