"""Insecure programs written the way users write them, in styles the prod stack does not use.

Each program is a small function run through ``infra.plan.run_program`` (normal and
preview mode) and evaluated with prod's policy pack config. The pack must report the
property's policy, at mandatory level, on the resource that carries the problem. Styles:
legacy ``aws.s3.BucketV2`` and the deprecated inline bucket arguments (still offered by
pulumi_aws 7), companions wired by a bucket's name string instead of ``bucket.id``,
documents built with ``aws.iam.get_policy_document``, ``pulumi.Output.json_dumps`` or a
plain dict, managed policies attached by ARN string, separate security group rule
resources, and resources left at their (insecure) AWS defaults.

Where the insecure value depends on another resource's output, a preview cannot know it:
those cases assert the value really is unknown and that the pack reports nothing (the
documented contract; ``pulumi up`` evaluates the known value). Secure programs of the same
styles must yield no violation of the policies involved.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from infra.config import load_stack_config
from infra.plan import UNKNOWN, Plan, RealisticMocks, run_program
from policies.offline import Report, analyze

REGION = "eu-west-1"
TAGS = {"owner": "ml-team", "cost-center": "cc-42", "environment": "prod", "project": "demo"}
ROLE_ARN = "arn:aws:iam::123456789012:role/demo-sagemaker"
OIDC_HOST = "token.actions.githubusercontent.com"
POLICY_DOCUMENT_TOKEN = "aws:iam/getPolicyDocument:getPolicyDocument"
DOCUMENT_KEYS = ("policy", "assumeRolePolicy")


# --- mocks that behave like the AWS provider where these programs need it ---------------


def _one_or_many(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else sorted(values)


def _principals(principals: list[dict[str, Any]]) -> Any:
    if any(p.get("type") == "*" for p in principals):
        return "*"
    return {p["type"]: _one_or_many(list(p["identifiers"])) for p in principals}


def _statement(spec: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": spec.get("effect") or "Allow"}
    if spec.get("sid"):
        statement["Sid"] = spec["sid"]
    for key, wire in (
        ("actions", "Action"),
        ("notActions", "NotAction"),
        ("resources", "Resource"),
        ("notResources", "NotResource"),
    ):
        if spec.get(key):
            statement[wire] = _one_or_many(list(spec[key]))
    for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        if spec.get(key):
            statement[wire] = _principals(spec[key])
    conditions: dict[str, dict[str, Any]] = {}
    for condition in spec.get("conditions") or []:
        block = conditions.setdefault(condition["test"], {})
        block[condition["variable"]] = _one_or_many(list(condition["values"]))
    if conditions:
        statement["Condition"] = conditions
    return statement


class ProviderLikeMocks(RealisticMocks):
    """RealisticMocks plus two things the AWS provider does that these programs rely on.

    * ``aws.iam.get_policy_document`` renders its statements to JSON (RealisticMocks
      answers unknown invokes with ``{}``, so ``.json`` would be None).
    * A policy document passed as a dict is stored as a JSON string (echoing the dict back
      as the output fails the SDK's output type check).
    """

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token != POLICY_DOCUMENT_TOKEN:
            return super().call(args)
        document = json.dumps(
            {
                "Version": args.args.get("version") or "2012-10-17",
                "Statement": [_statement(s) for s in args.args.get("statements") or []],
            }
        )
        return {"json": document, "minifiedJson": document, "id": "policy-document"}, []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        resource_id, state = super().new_resource(args)
        for key in DOCUMENT_KEYS:
            if isinstance(state.get(key), dict):
                state[key] = json.dumps(state[key])
        return resource_id, state


def _run(program: Callable[[], None], preview: bool) -> Plan:
    return run_program(
        program,
        project="unseen",
        stack="prod",
        config={"aws:region": REGION},
        preview=preview,
        mocks=ProviderLikeMocks(region=REGION, preview=preview),
    )


def _report(plan: Plan) -> Report:
    return analyze(
        [r.to_policy_input() for r in plan.resources],
        load_stack_config("prod").policy_pack_config(),
    )


LEGACY_V2_ARGS = frozenset(
    {
        "acl",
        "grants",
        "lifecycle_rules",
        "loggings",
        "server_side_encryption_configurations",
        "versionings",
    }
)
LEGACY_INLINE_ARGS = frozenset(
    {"logging", "policy", "server_side_encryption_configuration", "versioning"}
)


@functools.cache
def _legacy_bucket_styles_missing() -> str:
    """What the installed pulumi_aws no longer offers of the v6-era bucket styles, if any."""
    v2 = getattr(aws.s3, "BucketV2Args", None)
    if v2 is None:
        return "aws.s3.BucketV2"
    missing = LEGACY_V2_ARGS - set(inspect.signature(v2.__init__).parameters)
    missing |= LEGACY_INLINE_ARGS - set(inspect.signature(aws.s3.BucketArgs.__init__).parameters)
    return ", ".join(sorted(missing))


def _require_legacy_bucket_styles() -> None:
    missing = _legacy_bucket_styles_missing()
    if missing:
        pytest.skip(f"the installed pulumi_aws no longer offers {missing}: nobody can write this")


def _json(document: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [document]})


def _document(**statement: Any) -> str:
    return aws.iam.get_policy_document(statements=[statement]).json


def _allow_everything() -> str:
    return _json({"Effect": "Allow", "Action": "*", "Resource": "*"})


def _github_principal() -> str:
    account = aws.get_caller_identity().account_id
    return f"arn:aws:iam::{account}:oidc-provider/{OIDC_HOST}"


def _tls_only(bucket: str) -> str:
    return _document(
        sid="DenyInsecureTransport",
        effect="Deny",
        actions=["s3:*"],
        resources=[f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        principals=[{"type": "*", "identifiers": ["*"]}],
        conditions=[{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
    )


def _kms_default(key_id: Any) -> dict[str, Any]:
    return {"sse_algorithm": "aws:kms", "kms_master_key_id": key_id}


def _model(name: str = "model") -> aws.sagemaker.Model:
    return aws.sagemaker.Model(
        name,
        execution_role_arn=ROLE_ARN,
        primary_container={"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:1"},
        enable_network_isolation=True,
        tags=TAGS,
    )


def _variant(model: aws.sagemaker.Model) -> dict[str, Any]:
    return {
        "variant_name": "primary",
        "model_name": model.name,
        "instance_type": "ml.m5.xlarge",
        "initial_instance_count": 1,
    }


def _endpoint(name: str = "serving", endpoint_name: str | None = None) -> aws.sagemaker.Endpoint:
    config = aws.sagemaker.EndpointConfiguration(
        f"{name}-config", production_variants=[_variant(_model(f"{name}-model"))], tags=TAGS
    )
    return aws.sagemaker.Endpoint(
        name, name=endpoint_name, endpoint_config_name=config.name, tags=TAGS
    )


def _alarm(
    name: str, metric: str, endpoint_name: Any, topic: aws.sns.Topic, **opts: Any
) -> aws.cloudwatch.MetricAlarm:
    return aws.cloudwatch.MetricAlarm(
        name,
        namespace="AWS/SageMaker",
        metric_name=metric,
        dimensions={"EndpointName": endpoint_name, "VariantName": "primary"},
        statistic="Average",
        period=60,
        evaluation_periods=3,
        threshold=1,
        comparison_operator="GreaterThanThreshold",
        alarm_actions=[topic.arn],
        tags=TAGS,
        opts=pulumi.ResourceOptions(**opts),
    )


def _training_job(name: str, kms_key_id: Any) -> aws.sagemaker.TrainingJob:
    return aws.sagemaker.TrainingJob(
        name,
        training_job_name=f"demo-{name}",
        role_arn=ROLE_ARN,
        algorithm_specification={"training_image": "train:1", "training_input_mode": "File"},
        resource_config={
            "instance_type": "ml.m5.xlarge",
            "instance_count": 1,
            "volume_size_in_gb": 30,
        },
        output_data_config={"s3_output_path": "s3://demo-models/out/", "kms_key_id": kms_key_id},
        vpc_config={"subnets": ["subnet-0a1b2c3d"], "security_group_ids": ["sg-0a1b2c3d"]},
        enable_network_isolation=True,
        enable_inter_container_traffic_encryption=True,
        stopping_condition={"max_runtime_in_seconds": 3600},
        tags=TAGS,
    )


# --- legacy BucketV2 and inline bucket arguments ------------------------------------------


def bucket_v2_inline_versioning_disabled() -> None:
    aws.s3.BucketV2("legacy", bucket="demo-legacy", versionings=[{"enabled": False}], tags=TAGS)


def bucket_v2_inline_sse_aes256() -> None:
    aws.s3.BucketV2(
        "legacy",
        bucket="demo-legacy",
        server_side_encryption_configurations=[
            {"rules": [{"apply_server_side_encryption_by_defaults": [{"sse_algorithm": "AES256"}]}]}
        ],
        tags=TAGS,
    )


def bucket_v2_public_read_acl() -> None:
    aws.s3.BucketV2("legacy", bucket="demo-legacy", acl="public-read", tags=TAGS)


def bucket_v2_all_users_grant() -> None:
    aws.s3.BucketV2(
        "legacy",
        bucket="demo-legacy",
        grants=[
            {
                "type": "Group",
                "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                "permissions": ["READ"],
            }
        ],
        tags=TAGS,
    )


def bucket_v2_logs_into_itself() -> None:
    aws.s3.BucketV2(
        "legacy",
        bucket="demo-legacy",
        loggings=[{"target_bucket": "demo-legacy", "target_prefix": "logs/"}],
        tags=TAGS,
    )


def bucket_v2_self_logging_with_sse_s3() -> None:
    """A data bucket logging into itself, encrypted with SSE-S3 only."""
    aws.s3.BucketV2(
        "legacy",
        bucket="demo-legacy",
        loggings=[{"target_bucket": "demo-legacy", "target_prefix": "logs/"}],
        server_side_encryption_configurations=[
            {"rules": [{"apply_server_side_encryption_by_defaults": [{"sse_algorithm": "AES256"}]}]}
        ],
        tags=TAGS,
    )


def bucket_v2_without_logging() -> None:
    aws.s3.BucketV2("legacy", bucket="demo-legacy", versionings=[{"enabled": True}], tags=TAGS)


def bucket_inline_versioning_disabled() -> None:
    aws.s3.Bucket("inline", bucket="demo-inline", versioning={"enabled": False}, tags=TAGS)


def bucket_inline_public_policy() -> None:
    aws.s3.Bucket(
        "inline",
        bucket="demo-inline",
        policy=_json(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::demo-inline/*",
            }
        ),
        tags=TAGS,
    )


def bucket_inline_policy_without_tls() -> None:
    aws.s3.Bucket(
        "inline",
        bucket="demo-inline",
        policy=_json(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::demo-inline/*",
            }
        ),
        tags=TAGS,
    )


def bucket_force_destroy() -> None:
    aws.s3.Bucket("scratch", bucket="demo-scratch", force_destroy=True, tags=TAGS)


def capture_bucket_v2_lifecycle_disabled() -> None:
    capture = aws.s3.BucketV2(
        "capture",
        bucket="demo-capture",
        lifecycle_rules=[{"enabled": False, "expirations": [{"days": 30}]}],
        tags=TAGS,
    )
    aws.sagemaker.EndpointConfiguration(
        "serving-config",
        production_variants=[_variant(_model())],
        data_capture_config={
            "initial_sampling_percentage": 100,
            "destination_s3_uri": pulumi.Output.concat("s3://", capture.bucket, "/capture/"),
            "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
        },
        tags=TAGS,
    )


# --- companions wired by the bucket's name string ------------------------------------------


def _named_bucket() -> aws.s3.Bucket:
    return aws.s3.Bucket("data", bucket="demo-data", tags=TAGS)


def versioning_suspended_by_name() -> None:
    _named_bucket()
    aws.s3.BucketVersioning(
        "data-versioning", bucket="demo-data", versioning_configuration={"status": "Suspended"}
    )


def sse_aes256_by_name() -> None:
    _named_bucket()
    aws.s3.BucketServerSideEncryptionConfiguration(
        "data-encryption",
        bucket="demo-data",
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    )


def sse_aws_managed_key_by_name() -> None:
    _named_bucket()
    aws.s3.BucketServerSideEncryptionConfiguration(
        "data-encryption",
        bucket="demo-data",
        rules=[{"apply_server_side_encryption_by_default": _kms_default("alias/aws/s3")}],
    )


def public_access_flag_off_by_name() -> None:
    _named_bucket()
    aws.s3.BucketPublicAccessBlock(
        "data-public-access",
        bucket="demo-data",
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
    )


def ownership_object_writer_by_name() -> None:
    _named_bucket()
    aws.s3.BucketOwnershipControls(
        "data-ownership", bucket="demo-data", rule={"object_ownership": "ObjectWriter"}
    )


def bucket_policy_public_by_name() -> None:
    _named_bucket()
    aws.s3.BucketPolicy(
        "data-policy",
        bucket="demo-data",
        policy=_json(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::demo-data/*",
            }
        ),
    )


def logging_into_itself_by_name() -> None:
    _named_bucket()
    aws.s3.BucketLogging(
        "data-logging", bucket="demo-data", target_bucket="demo-data", target_prefix="logs/"
    )


def versioning_for_mistyped_name_with_depends_on() -> None:
    """depends_on orders the creation, but the name string points at another bucket."""
    bucket = _named_bucket()
    aws.s3.BucketVersioning(
        "data-versioning",
        bucket="demo-dta",
        versioning_configuration={"status": "Enabled"},
        opts=pulumi.ResourceOptions(depends_on=[bucket]),
    )


# --- policy documents: get_policy_document, Output.json_dumps, dicts ---------------------


def role_policy_from_policy_document() -> None:
    role = aws.iam.Role(
        "worker",
        assume_role_policy=_document(
            actions=["sts:AssumeRole"],
            principals=[{"type": "Service", "identifiers": ["sagemaker.amazonaws.com"]}],
        ),
        tags=TAGS,
    )
    aws.iam.RolePolicy(
        "worker-policy", role=role.id, policy=_document(actions=["*"], resources=["*"])
    )


def github_trust_from_policy_document() -> None:
    aws.iam.Role(
        "ci",
        assume_role_policy=_document(
            actions=["sts:AssumeRoleWithWebIdentity"],
            principals=[{"type": "Federated", "identifiers": [_github_principal()]}],
            conditions=[
                {
                    "test": "StringEquals",
                    "variable": f"{OIDC_HOST}:aud",
                    "values": ["sts.amazonaws.com"],
                },
                {
                    "test": "StringLike",
                    "variable": f"{OIDC_HOST}:sub",
                    "values": ["repo:demo-org/*"],
                },
            ],
        ),
        tags=TAGS,
    )


def github_trust_json_dumps_without_audience() -> None:
    aws.iam.Role(
        "ci",
        assume_role_policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": _github_principal()},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{OIDC_HOST}:sub": "repo:demo-org/app:ref:refs/heads/main"
                            }
                        },
                    }
                ],
            }
        ),
        tags=TAGS,
    )


def key_policy_from_policy_document() -> None:
    key = aws.kms.Key("data", enable_key_rotation=True, tags=TAGS)
    aws.kms.KeyPolicy(
        "data-policy",
        key_id=key.id,
        policy=_document(
            actions=["kms:*"], resources=["*"], principals=[{"type": "AWS", "identifiers": ["*"]}]
        ),
    )


def bucket_policy_from_policy_document() -> None:
    bucket = _named_bucket()
    aws.s3.BucketPolicy(
        "data-policy",
        bucket=bucket.id,
        policy=_document(
            actions=["s3:GetObject"],
            resources=["arn:aws:s3:::demo-data/*"],
            principals=[{"type": "*", "identifiers": ["*"]}],
        ),
    )


def policy_json_dumps_not_action() -> None:
    key = aws.kms.Key("data", enable_key_rotation=True, tags=TAGS)
    aws.iam.Policy(
        "broad",
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": key.arn}],
            }
        ),
        tags=TAGS,
    )


def policy_document_output_service_wildcard() -> None:
    bucket = _named_bucket()
    document = aws.iam.get_policy_document_output(
        statements=[{"actions": ["s3:*"], "resources": [bucket.arn]}]
    )
    aws.iam.Policy("data-access", policy=document.json, tags=TAGS)


def policy_as_dict_allowing_everything() -> None:
    aws.iam.Policy(
        "broad",
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}],
        },
        tags=TAGS,
    )


# --- managed policies attached by ARN string -----------------------------------------------


def _service_role() -> aws.iam.Role:
    return aws.iam.Role(
        "worker",
        assume_role_policy=_json(
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        tags=TAGS,
    )


def administrator_access_by_arn() -> None:
    aws.iam.RolePolicyAttachment(
        "worker-admin",
        role=_service_role().name,
        policy_arn="arn:aws:iam::aws:policy/AdministratorAccess",
    )


def sagemaker_full_access_by_enum() -> None:
    aws.iam.RolePolicyAttachment(
        "worker-sagemaker",
        role=_service_role().name,
        policy_arn=aws.iam.ManagedPolicy.AMAZON_SAGE_MAKER_FULL_ACCESS,
    )


def power_user_on_a_user() -> None:
    user = aws.iam.User("analyst", tags=TAGS)
    aws.iam.UserPolicyAttachment(
        "analyst-power", user=user.name, policy_arn="arn:aws:iam::aws:policy/PowerUserAccess"
    )


# --- user, group and managed policies; access keys --------------------------------------


def user_policy_allowing_everything() -> None:
    user = aws.iam.User("analyst", tags=TAGS)
    aws.iam.UserPolicy("analyst-policy", user=user.name, policy=_allow_everything())


def group_policy_allowing_everything() -> None:
    group = aws.iam.Group("analysts")
    aws.iam.GroupPolicy("analysts-policy", group=group.name, policy=_allow_everything())


def managed_policy_allowing_everything() -> None:
    aws.iam.Policy("broad", policy=_allow_everything(), tags=TAGS)


def access_key_for_a_user() -> None:
    user = aws.iam.User("ci-bot", tags=TAGS)
    aws.iam.AccessKey("ci-bot-key", user=user.name)


# --- separate security group rule resources -----------------------------------------------


def _security_group() -> aws.ec2.SecurityGroup:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
    return aws.ec2.SecurityGroup("hosts", vpc_id=vpc.id, tags=TAGS)


def security_group_rule_ssh_from_anywhere() -> None:
    aws.ec2.SecurityGroupRule(
        "ssh",
        type="ingress",
        security_group_id=_security_group().id,
        protocol="tcp",
        from_port=22,
        to_port=22,
        cidr_blocks=["0.0.0.0/0"],
    )


def ingress_rule_ssh_from_anywhere() -> None:
    aws.vpc.SecurityGroupIngressRule(
        "ssh",
        security_group_id=_security_group().id,
        ip_protocol="tcp",
        from_port=22,
        to_port=22,
        cidr_ipv4="0.0.0.0/0",
        tags=TAGS,
    )


def ingress_rule_everything_over_ipv6() -> None:
    aws.vpc.SecurityGroupIngressRule(
        "all-v6",
        security_group_id=_security_group().id,
        ip_protocol="-1",
        cidr_ipv6="::/0",
        tags=TAGS,
    )


# --- SageMaker, KMS, ECR, logs at their defaults --------------------------------------------


def notebook_with_defaults() -> None:
    aws.sagemaker.NotebookInstance(
        "workbench", instance_type="ml.m5.xlarge", role_arn=ROLE_ARN, tags=TAGS
    )


def notebook_with_root_and_internet() -> None:
    aws.sagemaker.NotebookInstance(
        "workbench",
        instance_type="ml.m5.xlarge",
        role_arn=ROLE_ARN,
        root_access="Enabled",
        direct_internet_access="Enabled",
        tags=TAGS,
    )


def endpoint_without_alarms() -> None:
    _endpoint()


def latency_alarm_for_mistyped_endpoint_name() -> None:
    """The alarm waits for the endpoint but watches a name no endpoint has."""
    endpoint = _endpoint(endpoint_name="demo-serving")
    topic = aws.sns.Topic("alerts", kms_master_key_id="alias/aws/sns", tags=TAGS)
    _alarm("latency", "ModelLatency", "demo-servng", topic, depends_on=[endpoint])
    _alarm("errors", "Invocation5XXErrors", endpoint.name, topic)


def endpoint_config_with_aws_managed_key() -> None:
    aws.sagemaker.EndpointConfiguration(
        "serving-config",
        production_variants=[_variant(_model())],
        kms_key_arn="arn:aws:kms:eu-west-1:123456789012:alias/aws/sagemaker",
        tags=TAGS,
    )


def training_output_with_aws_managed_key() -> None:
    _training_job("nightly", "alias/aws/s3")


def key_with_rotation_unset() -> None:
    aws.kms.Key("data", description="data key", tags=TAGS)


def repository_with_defaults() -> None:
    aws.ecr.Repository("models", tags=TAGS)


def log_group_with_defaults() -> None:
    aws.cloudwatch.LogGroup("jobs", tags=TAGS)


# --- the cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    program: Callable[[], None]
    policy: str
    target: str  # logical name of the resource the violation belongs to
    unknown_in_preview: str | None = None  # input of target that a preview cannot know
    legacy: bool = False  # uses aws.s3.BucketV2 or the deprecated inline bucket arguments

    @property
    def id(self) -> str:
        return f"{self.program.__name__}:{self.policy}"


CASES = [
    Case(bucket_v2_inline_versioning_disabled, "s3-bucket-versioned", "legacy", legacy=True),
    Case(bucket_v2_inline_sse_aes256, "s3-bucket-sse-kms", "legacy", legacy=True),
    Case(bucket_v2_public_read_acl, "s3-bucket-no-public-acl", "legacy", legacy=True),
    Case(bucket_v2_all_users_grant, "s3-bucket-no-public-acl", "legacy", legacy=True),
    Case(bucket_v2_logs_into_itself, "s3-log-bucket-not-self", "legacy", legacy=True),
    Case(bucket_v2_self_logging_with_sse_s3, "s3-bucket-sse-kms", "legacy", legacy=True),
    Case(bucket_v2_without_logging, "s3-bucket-access-logging", "legacy", legacy=True),
    Case(bucket_inline_versioning_disabled, "s3-bucket-versioned", "inline", legacy=True),
    Case(bucket_inline_public_policy, "s3-bucket-policy-no-public-allow", "inline", legacy=True),
    Case(bucket_inline_policy_without_tls, "s3-bucket-tls-only", "inline", legacy=True),
    Case(bucket_force_destroy, "s3-bucket-no-force-destroy", "scratch"),
    Case(
        capture_bucket_v2_lifecycle_disabled, "s3-capture-bucket-lifecycle", "capture", legacy=True
    ),
    Case(versioning_suspended_by_name, "s3-bucket-versioned", "data-versioning"),
    Case(sse_aes256_by_name, "s3-bucket-sse-kms", "data-encryption"),
    Case(sse_aws_managed_key_by_name, "s3-bucket-sse-kms", "data-encryption"),
    Case(public_access_flag_off_by_name, "s3-bucket-public-access-blocked", "data-public-access"),
    Case(ownership_object_writer_by_name, "s3-bucket-owner-enforced", "data-ownership"),
    Case(bucket_policy_public_by_name, "s3-bucket-policy-no-public-allow", "data-policy"),
    Case(bucket_policy_public_by_name, "s3-bucket-tls-only", "data-policy"),
    Case(logging_into_itself_by_name, "s3-log-bucket-not-self", "data-logging"),
    Case(versioning_for_mistyped_name_with_depends_on, "s3-bucket-versioned", "data"),
    Case(role_policy_from_policy_document, "iam-policy-no-wildcard-action", "worker-policy"),
    Case(github_trust_from_policy_document, "iam-github-oidc-trust-scoped", "ci"),
    Case(github_trust_json_dumps_without_audience, "iam-github-oidc-trust-scoped", "ci"),
    Case(key_policy_from_policy_document, "kms-key-policy-not-public", "data-policy"),
    Case(bucket_policy_from_policy_document, "s3-bucket-policy-no-public-allow", "data-policy"),
    Case(policy_json_dumps_not_action, "iam-policy-no-wildcard-action", "broad", "policy"),
    Case(
        policy_document_output_service_wildcard,
        "iam-policy-no-service-wildcard",
        "data-access",
        "policy",
    ),
    Case(policy_as_dict_allowing_everything, "iam-policy-no-wildcard-action", "broad"),
    Case(administrator_access_by_arn, "iam-no-admin-managed-policy", "worker-admin"),
    Case(sagemaker_full_access_by_enum, "iam-no-admin-managed-policy", "worker-sagemaker"),
    Case(power_user_on_a_user, "iam-no-admin-managed-policy", "analyst-power"),
    Case(user_policy_allowing_everything, "iam-policy-no-wildcard-action", "analyst-policy"),
    Case(group_policy_allowing_everything, "iam-policy-no-wildcard-action", "analysts-policy"),
    Case(managed_policy_allowing_everything, "iam-policy-no-wildcard-action", "broad"),
    Case(access_key_for_a_user, "iam-no-user-access-keys", "ci-bot-key"),
    Case(security_group_rule_ssh_from_anywhere, "security-group-no-public-admin-ports", "ssh"),
    Case(ingress_rule_ssh_from_anywhere, "security-group-no-public-admin-ports", "ssh"),
    Case(ingress_rule_everything_over_ipv6, "security-group-no-public-ingress", "all-v6"),
    Case(notebook_with_defaults, "sagemaker-notebook-root-access-disabled", "workbench"),
    Case(notebook_with_defaults, "sagemaker-notebook-no-direct-internet", "workbench"),
    Case(notebook_with_root_and_internet, "sagemaker-notebook-root-access-disabled", "workbench"),
    Case(notebook_with_root_and_internet, "sagemaker-notebook-no-direct-internet", "workbench"),
    Case(endpoint_without_alarms, "sagemaker-endpoint-latency-alarm", "serving"),
    Case(endpoint_without_alarms, "sagemaker-endpoint-error-alarm", "serving"),
    Case(latency_alarm_for_mistyped_endpoint_name, "sagemaker-endpoint-latency-alarm", "serving"),
    Case(endpoint_config_with_aws_managed_key, "sagemaker-endpoint-config-kms", "serving-config"),
    Case(training_output_with_aws_managed_key, "sagemaker-training-output-kms", "nightly"),
    Case(key_with_rotation_unset, "kms-key-rotation-enabled", "data"),
    Case(repository_with_defaults, "ecr-image-tag-immutable", "models"),
    Case(repository_with_defaults, "ecr-scan-on-push", "models"),
    Case(repository_with_defaults, "ecr-kms-encrypted", "models"),
    Case(log_group_with_defaults, "cloudwatch-log-group-retention", "jobs"),
    Case(log_group_with_defaults, "cloudwatch-log-group-kms", "jobs"),
]


@pytest.mark.parametrize("preview", [False, True], ids=["normal", "preview"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_insecure_program_is_reported(case: Case, preview: bool) -> None:
    if case.legacy:
        _require_legacy_bucket_styles()
    plan = _run(case.program, preview)
    target = plan.get(case.target)
    report = _report(plan)
    found = [v for v in report.violations if v.policy == case.policy and v.urn == target.urn]
    if preview and case.unknown_in_preview:
        assert target.inputs[case.unknown_in_preview] == UNKNOWN
        assert found == []
        assert [s for s in report.skipped if s.policy == case.policy] == []
        return
    assert found, (
        f"{case.policy} missed {case.target}; got "
        f"{[(v.policy, v.urn.rsplit('::', 1)[-1]) for v in report.violations]}"
    )
    assert {v.level for v in found} == {"mandatory"}
    assert all(f"'{case.target}'" in v.message for v in found)
    if not preview:
        # The verdict must not depend on the order the engine happened to register resources.
        inputs = [r.to_policy_input() for r in reversed(plan.resources)]
        reordered = analyze(inputs, load_stack_config("prod").policy_pack_config())
        assert _messages(reordered, case.policy) == _messages(report, case.policy)


def _messages(report: Report, policy: str) -> set[tuple[str, str]]:
    return {(v.urn, v.message) for v in report.violations if v.policy == policy}


# --- secure programs of the same styles -------------------------------------------------------


def bucket_v2_inline_secure() -> None:
    """Inline (deprecated) settings done right, logging into a separate SSE-S3 log bucket."""
    key = aws.kms.Key("data", enable_key_rotation=True, tags=TAGS)
    aws.s3.BucketV2(
        "logs",
        bucket="demo-logs",
        versionings=[{"enabled": True}],
        server_side_encryption_configurations=[
            {"rules": [{"apply_server_side_encryption_by_defaults": [{"sse_algorithm": "AES256"}]}]}
        ],
        policy=_tls_only("demo-logs"),
        tags=TAGS,
    )
    aws.s3.BucketV2(
        "legacy",
        bucket="demo-legacy",
        versionings=[{"enabled": True}],
        server_side_encryption_configurations=[
            {"rules": [{"apply_server_side_encryption_by_defaults": [_kms_default(key.arn)]}]}
        ],
        loggings=[{"target_bucket": "demo-logs", "target_prefix": "legacy/"}],
        policy=_tls_only("demo-legacy"),
        tags=TAGS,
    )


def _companions_by_name(
    name: str, bucket: aws.s3.Bucket, physical: str, encryption: dict[str, Any]
) -> None:
    """Every companion of one bucket, wired by its physical name, ordered with depends_on."""
    after = pulumi.ResourceOptions(depends_on=[bucket])
    aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=physical,
        versioning_configuration={"status": "Enabled"},
        opts=after,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=physical,
        rules=[{"apply_server_side_encryption_by_default": encryption}],
        opts=after,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=physical,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=after,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=physical,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=after,
    )
    aws.s3.BucketPolicy(f"{name}-policy", bucket=physical, policy=_tls_only(physical), opts=after)


def companions_by_name_secure() -> None:
    key = aws.kms.Key("data", enable_key_rotation=True, tags=TAGS)
    data = _named_bucket()
    _companions_by_name("data", data, "demo-data", _kms_default(key.arn))
    logs = aws.s3.Bucket("logs", bucket="demo-logs", tags=TAGS)
    _companions_by_name("logs", logs, "demo-logs", {"sse_algorithm": "AES256"})
    aws.s3.BucketLogging(
        "data-logging",
        bucket="demo-data",
        target_bucket="demo-logs",
        target_prefix="data/",
        opts=pulumi.ResourceOptions(depends_on=[data, logs]),
    )


def documents_secure() -> None:
    aws.iam.Role(
        "ci",
        assume_role_policy=_document(
            actions=["sts:AssumeRoleWithWebIdentity"],
            principals=[{"type": "Federated", "identifiers": [_github_principal()]}],
            conditions=[
                {
                    "test": "StringEquals",
                    "variable": f"{OIDC_HOST}:aud",
                    "values": ["sts.amazonaws.com"],
                },
                {
                    "test": "StringLike",
                    "variable": f"{OIDC_HOST}:sub",
                    "values": ["repo:demo-org/app:environment:prod"],
                },
            ],
        ),
        tags=TAGS,
    )
    aws.iam.Policy(
        "reader",
        policy=_document(actions=["s3:GetObject", "s3:ListBucket"], resources=["*"]),
        tags=TAGS,
    )
    key = aws.kms.Key("data", enable_key_rotation=True, tags=TAGS)
    aws.kms.KeyPolicy(
        "data-policy",
        key_id=key.id,
        policy=_document(
            actions=["kms:*"],
            resources=["*"],
            principals=[{"type": "AWS", "identifiers": ["arn:aws:iam::123456789012:root"]}],
        ),
    )


def alarms_by_name_secure() -> None:
    endpoint = _endpoint(endpoint_name="demo-serving")
    topic = aws.sns.Topic("alerts", kms_master_key_id="alias/aws/sns", tags=TAGS)
    _alarm("latency", "ModelLatency", "demo-serving", topic, depends_on=[endpoint])
    _alarm("errors", "Invocation5XXErrors", "demo-serving", topic, depends_on=[endpoint])


def customer_managed_keys_secure() -> None:
    key = aws.kms.Key("data", enable_key_rotation=True, tags=TAGS)
    aws.sagemaker.EndpointConfiguration(
        "serving-config",
        production_variants=[_variant(_model())],
        kms_key_arn=key.arn,
        tags=TAGS,
    )
    _training_job("nightly", key.arn)


def rules_and_defaults_secure() -> None:
    group = _security_group()
    aws.ec2.SecurityGroupRule(
        "ssh",
        type="ingress",
        security_group_id=group.id,
        protocol="tcp",
        from_port=22,
        to_port=22,
        cidr_blocks=["10.0.0.0/16"],
    )
    aws.vpc.SecurityGroupIngressRule(
        "https",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        referenced_security_group_id=group.id,
        tags=TAGS,
    )
    aws.ecr.Repository(
        "models",
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "KMS"}],
        tags=TAGS,
    )


SECURE = [
    pytest.param(
        bucket_v2_inline_secure,
        [
            "s3-bucket-versioned",
            "s3-bucket-sse-kms",
            "s3-bucket-access-logging",
            "s3-log-bucket-not-self",
            "s3-bucket-no-public-acl",
            "s3-bucket-policy-no-public-allow",
            "s3-bucket-tls-only",
        ],
        id="bucket_v2_inline_secure",
    ),
    pytest.param(
        companions_by_name_secure,
        [
            "s3-bucket-versioned",
            "s3-bucket-sse-kms",
            "s3-bucket-public-access-blocked",
            "s3-bucket-owner-enforced",
            "s3-bucket-tls-only",
            "s3-bucket-policy-no-public-allow",
            "s3-log-bucket-not-self",
        ],
        id="companions_by_name_secure",
    ),
    pytest.param(
        documents_secure,
        [
            "iam-github-oidc-trust-scoped",
            "iam-policy-no-wildcard-action",
            "kms-key-policy-not-public",
        ],
        id="documents_secure",
    ),
    pytest.param(
        alarms_by_name_secure,
        ["sagemaker-endpoint-latency-alarm", "sagemaker-endpoint-error-alarm"],
        id="alarms_by_name_secure",
    ),
    pytest.param(
        customer_managed_keys_secure,
        ["sagemaker-endpoint-config-kms", "sagemaker-training-output-kms"],
        id="customer_managed_keys_secure",
    ),
    pytest.param(
        rules_and_defaults_secure,
        [
            "security-group-no-public-admin-ports",
            "security-group-no-public-ingress",
            "ecr-image-tag-immutable",
            "ecr-scan-on-push",
            "ecr-kms-encrypted",
        ],
        id="rules_and_defaults_secure",
    ),
]


@pytest.mark.parametrize("preview", [False, True], ids=["normal", "preview"])
@pytest.mark.parametrize("program, policies", SECURE)
def test_secure_program_of_the_same_style_passes(
    program: Callable[[], None], policies: list[str], preview: bool
) -> None:
    if program is bucket_v2_inline_secure:
        _require_legacy_bucket_styles()
    report = _report(_run(program, preview))
    assert [v for v in report.violations if v.policy in policies] == []
    assert [s for s in report.skipped if s.policy in policies] == []
