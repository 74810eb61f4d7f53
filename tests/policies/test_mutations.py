"""Mutation tests: the prod stack made insecure one property at a time.

The prod stack (with a served model, so the serving group exists) is planned once per
mode under Pulumi mocks. Each mutation below is a small named function that edits a deep
copy of that resource graph the way a careless engineer would edit the program: change an
input, drop a companion resource, widen a policy document, remove a tag. Each test checks

(a) the graph without the mutation has no violation of the mutation's policy,
(b) the mutated graph has a mandatory violation of exactly that policy on the intended
    resource (other policies may fire as well),
(c) the message names the resource and says how to fix it.

Edits follow the wire format the engine sends: a value set on an input is set on the
output too (stack policies read outputs), an input replaced by a literal loses its property
dependencies, and a removed resource disappears from the others' dependencies. Resources
the prod plan lacks (notebook, training job, Studio domain) are added by a ``setup`` in a
secure form first, so (a) is checked on a graph that contains them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from infra.config import load_stack_config
from infra.plan import plan_stack
from policies.offline import UNKNOWN, Report, analyze, resource

SERVING = {
    "mlops-platform:endpointModelImage": "serving-1.0",
    "mlops-platform:endpointModelDataKey": "m/model.tar.gz",
}
SUB_CLAIM = "token.actions.githubusercontent.com:sub"
MIN_MUTATIONS = 30
MIN_PREVIEW_MUTATIONS = 8
MIN_DISTINCT_POLICIES = 25
FIX_HINT = re.compile(
    r"\b(Set|Add|Remove|Use|Grant|Name|Point|List|Lower|Pick|Delete|Restrict|Replace|Attach)\b",
    re.IGNORECASE,
)

Graph = list[dict[str, Any]]
Edit = Callable[[Graph], None]


class NotApplicable(LookupError):
    """The value a mutation edits is unknown in this plan (a preview)."""


@dataclass(frozen=True)
class Mutation:
    name: str
    policy: str  # the policy that must report it
    target: str  # logical name of the resource the violation must be attached to
    edit: Edit
    preview: bool  # the edited values are known in a preview too
    setup: Edit | None  # adds secure resources the prod plan lacks (before and after)


MUTATIONS: list[Mutation] = []


def mutation(
    policy: str, target: str, *, preview: bool = True, setup: Edit | None = None
) -> Callable[[Edit], Edit]:
    """Register the decorated edit as a mutation (its function name is the test id)."""

    def register(edit: Edit) -> Edit:
        MUTATIONS.append(Mutation(edit.__name__, policy, target, edit, preview, setup))
        return edit

    return register


# --- editing a captured graph -----------------------------------------------------------


def _get(graph: Graph, name: str) -> dict[str, Any]:
    matches = [r for r in graph if r["name"] == name]
    assert len(matches) == 1, f"{len(matches)} resources named {name!r} in the plan"
    return matches[0]


def _unlink(res: dict[str, Any], key: str) -> None:
    """``key`` no longer depends on other resources (it became a literal or went away)."""
    dropped = set(res["propertyDependencies"].pop(key, ()))
    still = {urn for urns in res["propertyDependencies"].values() for urn in urns}
    res["dependencies"] = [d for d in res["dependencies"] if d not in dropped or d in still]


def _put(res: dict[str, Any], key: str, value: Any) -> None:
    res["inputs"][key] = value
    res["outputs"][key] = copy.deepcopy(value)


def _set(res: dict[str, Any], key: str, value: Any) -> None:
    """Replace an input with a literal, as when an Output argument is hard-coded."""
    _put(res, key, value)
    _unlink(res, key)


def _drop(res: dict[str, Any], key: str) -> None:
    """Delete an argument from the program."""
    res["inputs"].pop(key, None)
    res["outputs"].pop(key, None)
    _unlink(res, key)


def _update(res: dict[str, Any], key: str, change: Callable[[Any], None]) -> None:
    """Edit part of a nested argument; the rest (and its dependencies) stays."""
    value = copy.deepcopy(res["inputs"][key])
    change(value)
    _put(res, key, value)


def _link(res: dict[str, Any], key: str, value: Any, urns: list[str]) -> None:
    _put(res, key, value)
    res["propertyDependencies"][key] = list(urns)
    res["dependencies"] = list(dict.fromkeys([*res["dependencies"], *urns]))


def _remove(graph: Graph, name: str) -> None:
    """Delete a resource from the program; nothing depends on it any more."""
    urn = _get(graph, name)["urn"]
    graph[:] = [r for r in graph if r["urn"] != urn]
    for res in graph:
        res["dependencies"] = [d for d in res["dependencies"] if d != urn]
        for key, urns in res["propertyDependencies"].items():
            res["propertyDependencies"][key] = [u for u in urns if u != urn]


def _document(res: dict[str, Any], key: str) -> dict[str, Any]:
    text = res["inputs"].get(key)
    if not isinstance(text, str) or text == UNKNOWN:
        raise NotApplicable(f"{res['name']}.{key} is unknown in this plan")
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


def _edit_document(res: dict[str, Any], key: str, change: Callable[[dict[str, Any]], None]):
    document = _document(res, key)
    change(document)
    _put(res, key, json.dumps(document))


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _ref(graph: Graph, name: str, key: str) -> tuple[Any, str]:
    """A resource's output (UNKNOWN while previewing) and its URN, to reference it."""
    res = _get(graph, name)
    value = res["outputs"].get(key, res["inputs"].get(key))
    return (value if isinstance(value, str) and value != UNKNOWN else UNKNOWN), res["urn"]


def _tags(graph: Graph) -> dict[str, str]:
    return dict(_get(graph, "network-vpc")["inputs"]["tags"])


def _add(
    graph: Graph,
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    component: str,
    links: Mapping[str, list[str]] | None = None,
) -> None:
    """Declare a new resource in ``component``; ``links`` are its property dependencies."""
    parent = _get(graph, component)["urn"]
    graph.append(
        resource(
            type_,
            name,
            inputs,
            parent=parent,
            property_dependencies=links or {},
            stack="prod",
        )
    )


# --- secure additions for resources the prod plan does not declare ----------------------

NOTEBOOK = "workbench-notebook"
TRAINING_JOB = "nightly-training-job"
DOMAIN = "studio-domain"


def _compute_links(graph: Graph) -> dict[str, tuple[Any, str]]:
    return {
        "role": _ref(graph, "roles-sagemaker-execution", "arn"),
        "key": _ref(graph, "keys-data", "arn"),
        "subnet": _ref(graph, "network-private-subnet-0", "id"),
        "sg": _ref(graph, "network-training-sg", "id"),
        "vpc": _ref(graph, "network-vpc", "id"),
    }


def add_secure_notebook(graph: Graph) -> None:
    refs = _compute_links(graph)
    (role, role_urn), (key, key_urn) = refs["role"], refs["key"]
    (subnet, subnet_urn), (sg, sg_urn) = refs["subnet"], refs["sg"]
    inputs = {
        "instanceType": "ml.m5.xlarge",
        "roleArn": role,
        "rootAccess": "Disabled",
        "directInternetAccess": "Disabled",
        "subnetId": subnet,
        "securityGroups": [sg],
        "kmsKeyId": key,
        "tags": _tags(graph),
    }
    links = {
        "roleArn": [role_urn],
        "subnetId": [subnet_urn],
        "securityGroups": [sg_urn],
        "kmsKeyId": [key_urn],
    }
    notebook = "aws:sagemaker/notebookInstance:NotebookInstance"
    _add(graph, notebook, NOTEBOOK, inputs, component="training", links=links)


def add_secure_training_job(graph: Graph) -> None:
    refs = _compute_links(graph)
    (role, role_urn), (key, key_urn) = refs["role"], refs["key"]
    (subnet, subnet_urn), (sg, sg_urn) = refs["subnet"], refs["sg"]
    models = _get(graph, "storage-models")["inputs"]["bucket"]
    inputs = {
        "trainingJobName": "mlops-platform-prod-nightly",
        "roleArn": role,
        "algorithmSpecification": {"trainingImage": "train:1.0", "trainingInputMode": "File"},
        "resourceConfig": {
            "instanceType": "ml.m5.xlarge",
            "instanceCount": 2.0,
            "volumeSizeInGb": 50.0,
            "volumeKmsKeyId": key,
        },
        "outputDataConfig": {"s3OutputPath": f"s3://{models}/training/", "kmsKeyId": key},
        "vpcConfig": {"subnets": [subnet], "securityGroupIds": [sg]},
        "enableNetworkIsolation": True,
        "enableInterContainerTrafficEncryption": True,
        "stoppingCondition": {"maxRuntimeInSeconds": 3600.0},
        "tags": _tags(graph),
    }
    links = {
        "roleArn": [role_urn],
        "resourceConfig": [key_urn],
        "outputDataConfig": [key_urn],
        "vpcConfig": [subnet_urn, sg_urn],
    }
    job = "aws:sagemaker/trainingJob:TrainingJob"
    _add(graph, job, TRAINING_JOB, inputs, component="training", links=links)


def add_secure_domain(graph: Graph) -> None:
    refs = _compute_links(graph)
    (role, role_urn), (key, key_urn) = refs["role"], refs["key"]
    (subnet, subnet_urn), (vpc, vpc_urn) = refs["subnet"], refs["vpc"]
    inputs = {
        "domainName": "mlops-platform-prod-studio",
        "authMode": "IAM",
        "vpcId": vpc,
        "subnetIds": [subnet],
        "appNetworkAccessType": "VpcOnly",
        "kmsKeyId": key,
        "defaultUserSettings": {"executionRole": role},
        "tags": _tags(graph),
    }
    links = {
        "vpcId": [vpc_urn],
        "subnetIds": [subnet_urn],
        "kmsKeyId": [key_urn],
        "defaultUserSettings": [role_urn],
    }
    _add(graph, "aws:sagemaker/domain:Domain", DOMAIN, inputs, component="training", links=links)


# --- S3 ---------------------------------------------------------------------------------


@mutation("s3-bucket-versioned", "storage-datasets-versioning")
def versioning_suspended(graph: Graph) -> None:
    _set(
        _get(graph, "storage-datasets-versioning"),
        "versioningConfiguration",
        {"status": "Suspended"},
    )


@mutation("s3-bucket-versioned", "storage-datasets")
def versioning_resource_removed(graph: Graph) -> None:
    _remove(graph, "storage-datasets-versioning")


@mutation("s3-bucket-sse-kms", "storage-datasets-encryption")
def sse_switched_to_aes256(graph: Graph) -> None:
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    _set(_get(graph, "storage-datasets-encryption"), "rules", rules)


@mutation("s3-bucket-sse-kms", "storage-capture-encryption")
def sse_uses_aws_managed_key_alias(graph: Graph) -> None:
    default = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "alias/aws/s3"}
    rules = [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}]
    _set(_get(graph, "storage-capture-encryption"), "rules", rules)


@mutation("s3-bucket-sse-kms", "storage-models")
def encryption_resource_removed(graph: Graph) -> None:
    _remove(graph, "storage-models-encryption")


@mutation("s3-bucket-public-access-blocked", "storage-capture-public-access")
def public_access_flag_off(graph: Graph) -> None:
    _set(_get(graph, "storage-capture-public-access"), "restrictPublicBuckets", False)


@mutation("s3-bucket-public-access-blocked", "storage-datasets")
def public_access_block_removed(graph: Graph) -> None:
    _remove(graph, "storage-datasets-public-access")


@mutation("s3-bucket-tls-only", "storage-datasets-policy", preview=False)
def tls_deny_statement_removed(graph: Graph) -> None:
    def drop_tls(document: dict[str, Any]) -> None:
        document["Statement"] = [
            s for s in _statements(document) if s.get("Sid") != "DenyInsecureTransport"
        ]

    _edit_document(_get(graph, "storage-datasets-policy"), "policy", drop_tls)


@mutation("s3-bucket-policy-no-public-allow", "storage-models-policy", preview=False)
def public_principal_allow_added(graph: Graph) -> None:
    bucket = _get(graph, "storage-models")["inputs"]["bucket"]

    def share(document: dict[str, Any]) -> None:
        document["Statement"] = [
            *_statements(document),
            {
                "Sid": "ShareModels",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ]

    _edit_document(_get(graph, "storage-models-policy"), "policy", share)


@mutation("s3-bucket-no-public-acl", "storage-datasets")
def public_read_acl(graph: Graph) -> None:
    _set(_get(graph, "storage-datasets"), "acl", "public-read")


@mutation("s3-bucket-access-logging", "storage-capture")
def access_logging_removed(graph: Graph) -> None:
    _remove(graph, "storage-capture-logging")


@mutation("s3-log-bucket-not-self", "storage-models-logging")
def bucket_logs_to_itself(graph: Graph) -> None:
    logging = _get(graph, "storage-models-logging")
    _unlink(logging, "targetBucket")
    _link(
        logging,
        "targetBucket",
        logging["inputs"]["bucket"],
        list(logging["propertyDependencies"]["bucket"]),
    )


@mutation("s3-capture-bucket-lifecycle", "storage-capture")
def capture_lifecycle_removed(graph: Graph) -> None:
    _remove(graph, "storage-capture-lifecycle")


@mutation("s3-bucket-owner-enforced", "storage-datasets-ownership")
def ownership_object_writer(graph: Graph) -> None:
    _set(_get(graph, "storage-datasets-ownership"), "rule", {"objectOwnership": "ObjectWriter"})


@mutation("s3-bucket-no-force-destroy", "storage-models")
def force_destroy_enabled(graph: Graph) -> None:
    _set(_get(graph, "storage-models"), "forceDestroy", True)


# --- KMS --------------------------------------------------------------------------------


@mutation("kms-key-rotation-enabled", "keys-data")
def key_rotation_disabled(graph: Graph) -> None:
    _set(_get(graph, "keys-data"), "enableKeyRotation", False)


@mutation("kms-key-policy-not-public", "keys-logs", preview=False)
def key_policy_grants_kms_star_to_everyone(graph: Graph) -> None:
    def widen(document: dict[str, Any]) -> None:
        document["Statement"] = [
            *_statements(document),
            {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:*"},
        ]

    _edit_document(_get(graph, "keys-logs"), "policy", widen)


# --- IAM --------------------------------------------------------------------------------


def _append_statement(graph: Graph, name: str, statement: dict[str, Any]) -> None:
    def add(document: dict[str, Any]) -> None:
        document["Statement"] = [*_statements(document), statement]

    _edit_document(_get(graph, name), "policy", add)


@mutation("iam-policy-no-wildcard-action", "permissions-preview")
def inline_policy_allows_every_action(graph: Graph) -> None:
    _append_statement(
        graph,
        "permissions-preview",
        {"Sid": "Debug", "Effect": "Allow", "Action": "*", "Resource": "*"},
    )


@mutation("iam-policy-no-wildcard-action", "permissions-deploy-ml")
def managed_policy_allows_not_action(graph: Graph) -> None:
    _append_statement(
        graph,
        "permissions-deploy-ml",
        {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    )


@mutation("iam-policy-no-service-wildcard", "permissions-monitoring")
def service_wildcard_action(graph: Graph) -> None:
    def widen(document: dict[str, Any]) -> None:
        _statements(document)[0]["Action"] = "cloudwatch:*"

    _edit_document(_get(graph, "permissions-monitoring"), "policy", widen)


@mutation("iam-role-management-bounded", "roles-ci-deploy")
def deploy_role_without_boundary(graph: Graph) -> None:
    _drop(_get(graph, "roles-ci-deploy"), "permissionsBoundary")


@mutation("iam-role-management-bounded", "roles-ci-deploy")
def deploy_role_creates_unbounded_roles(graph: Graph) -> None:
    def unbound(document: dict[str, Any]) -> None:
        for statement in _statements(document):
            if statement.get("Sid") == "StackRolesBounded":
                del statement["Condition"]

    _edit_document(_get(graph, "permissions-deploy-foundation"), "policy", unbound)


@mutation("iam-no-admin-managed-policy", "permissions-deploy-ml-attachment")
def administrator_access_attached(graph: Graph) -> None:
    _set(
        _get(graph, "permissions-deploy-ml-attachment"),
        "policyArn",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    )


@mutation("iam-no-admin-managed-policy", "roles-sagemaker-full-access")
def sagemaker_full_access_attached(graph: Graph) -> None:
    role, role_urn = _ref(graph, "roles-sagemaker-execution", "name")
    _add(
        graph,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "roles-sagemaker-full-access",
        {"role": role, "policyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"},
        component="roles",
        links={"role": [role_urn]},
    )


def _edit_trust(graph: Graph, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    def edit(document: dict[str, Any]) -> None:
        change(_statements(document)[0]["Condition"])

    _edit_document(_get(graph, name), "assumeRolePolicy", edit)


@mutation("iam-github-oidc-trust-scoped", "roles-ci-deploy")
def github_trust_any_repository(graph: Graph) -> None:
    def widen(condition: dict[str, Any]) -> None:
        condition["StringEquals"].pop(SUB_CLAIM)
        condition["StringLike"] = {SUB_CLAIM: "repo:*"}

    _edit_trust(graph, "roles-ci-deploy", widen)


@mutation("iam-github-oidc-trust-scoped", "roles-ci-preview")
def github_trust_whole_organisation(graph: Graph) -> None:
    def widen(condition: dict[str, Any]) -> None:
        condition["StringEquals"].pop(SUB_CLAIM)
        condition["StringLike"] = {SUB_CLAIM: "repo:example-org/*"}

    _edit_trust(graph, "roles-ci-preview", widen)


@mutation("iam-github-oidc-trust-scoped", "roles-ci-deploy")
def github_trust_without_audience(graph: Graph) -> None:
    def drop_aud(condition: dict[str, Any]) -> None:
        condition["StringEquals"].pop("token.actions.githubusercontent.com:aud")

    _edit_trust(graph, "roles-ci-deploy", drop_aud)


@mutation("iam-no-user-access-keys", "ci-bot-key")
def access_key_added(graph: Graph) -> None:
    user = {"name": "ci-bot", "tags": _tags(graph)}
    _add(graph, "aws:iam/user:User", "ci-bot", user, component="roles")
    key = {"user": "ci-bot"}
    links = {"user": [_get(graph, "ci-bot")["urn"]]}
    _add(graph, "aws:iam/accessKey:AccessKey", "ci-bot-key", key, component="roles", links=links)


# --- SageMaker --------------------------------------------------------------------------


@mutation("sagemaker-endpoint-config-kms", "endpoint-config")
def endpoint_config_without_kms(graph: Graph) -> None:
    _drop(_get(graph, "endpoint-config"), "kmsKeyArn")


@mutation("sagemaker-endpoint-data-capture", "endpoint-config")
def data_capture_disabled(graph: Graph) -> None:
    _update(
        _get(graph, "endpoint-config"),
        "dataCaptureConfig",
        lambda capture: capture.update(enableCapture=False),
    )


@mutation("sagemaker-model-network-isolation", "endpoint-model")
def model_without_network_isolation(graph: Graph) -> None:
    _set(_get(graph, "endpoint-model"), "enableNetworkIsolation", False)


@mutation("sagemaker-model-vpc", "endpoint-model")
def model_without_vpc(graph: Graph) -> None:
    _drop(_get(graph, "endpoint-model"), "vpcConfig")


@mutation("sagemaker-notebook-root-access-disabled", NOTEBOOK, setup=add_secure_notebook)
def notebook_root_access_enabled(graph: Graph) -> None:
    _set(_get(graph, NOTEBOOK), "rootAccess", "Enabled")


@mutation("sagemaker-notebook-no-direct-internet", NOTEBOOK, setup=add_secure_notebook)
def notebook_direct_internet_access(graph: Graph) -> None:
    notebook = _get(graph, NOTEBOOK)
    _drop(notebook, "directInternetAccess")  # AWS's default is "Enabled"


@mutation("sagemaker-training-network-isolation", TRAINING_JOB, setup=add_secure_training_job)
def training_without_network_isolation(graph: Graph) -> None:
    _set(_get(graph, TRAINING_JOB), "enableNetworkIsolation", False)


@mutation("sagemaker-training-vpc", TRAINING_JOB, setup=add_secure_training_job)
def training_outside_vpc(graph: Graph) -> None:
    _drop(_get(graph, TRAINING_JOB), "vpcConfig")


@mutation(
    "sagemaker-training-inter-container-encryption", TRAINING_JOB, setup=add_secure_training_job
)
def training_without_inter_container_encryption(graph: Graph) -> None:
    _set(_get(graph, TRAINING_JOB), "enableInterContainerTrafficEncryption", False)


@mutation("sagemaker-training-output-kms", TRAINING_JOB, setup=add_secure_training_job)
def training_output_without_kms(graph: Graph) -> None:
    _update(_get(graph, TRAINING_JOB), "outputDataConfig", lambda output: output.pop("kmsKeyId"))


@mutation("sagemaker-domain-vpc-only", DOMAIN, setup=add_secure_domain)
def studio_domain_public_internet(graph: Graph) -> None:
    _set(_get(graph, DOMAIN), "appNetworkAccessType", "PublicInternetOnly")


# --- ECR --------------------------------------------------------------------------------


@mutation("ecr-image-tag-immutable", "registry-repository")
def ecr_tags_mutable(graph: Graph) -> None:
    _set(_get(graph, "registry-repository"), "imageTagMutability", "MUTABLE")


@mutation("ecr-scan-on-push", "registry-repository")
def ecr_scan_on_push_off(graph: Graph) -> None:
    _set(_get(graph, "registry-repository"), "imageScanningConfiguration", {"scanOnPush": False})


@mutation("ecr-kms-encrypted", "registry-repository")
def ecr_kms_removed(graph: Graph) -> None:
    _drop(_get(graph, "registry-repository"), "encryptionConfigurations")


# --- network ----------------------------------------------------------------------------


def _world_rule(port: int) -> dict[str, Any]:
    return {
        "protocol": "tcp",
        "description": f"Port {port} from anywhere",
        "fromPort": float(port),
        "toPort": float(port),
        "cidrBlocks": ["0.0.0.0/0"],
    }


@mutation("security-group-no-public-admin-ports", "network-training-sg")
def ssh_open_to_the_world(graph: Graph) -> None:
    _update(
        _get(graph, "network-training-sg"), "ingress", lambda rules: rules.append(_world_rule(22))
    )


@mutation("security-group-no-public-ingress", "network-serving-sg")
def https_open_to_the_world(graph: Graph) -> None:
    def open_443(rules: list[dict[str, Any]]) -> None:
        rules[0]["cidrBlocks"] = ["0.0.0.0/0"]

    _update(_get(graph, "network-serving-sg"), "ingress", open_443)


@mutation("vpc-flow-logs-enabled", "network-vpc")
def flow_log_removed(graph: Graph) -> None:
    _remove(graph, "network-flow-log")


# --- monitoring -------------------------------------------------------------------------


@mutation("cloudwatch-log-group-retention", "monitoring-endpoint-logs")
def log_retention_below_minimum(graph: Graph) -> None:
    _set(_get(graph, "monitoring-endpoint-logs"), "retentionInDays", 30.0)


@mutation("cloudwatch-log-group-kms", "network-flow-logs")
def log_group_kms_removed(graph: Graph) -> None:
    _drop(_get(graph, "network-flow-logs"), "kmsKeyId")


@mutation("sns-topic-kms", "monitoring-alerts")
def alerts_topic_kms_removed(graph: Graph) -> None:
    _drop(_get(graph, "monitoring-alerts"), "kmsMasterKeyId")


@mutation("sagemaker-endpoint-latency-alarm", "endpoint-endpoint")
def latency_alarm_removed(graph: Graph) -> None:
    _remove(graph, "monitoring-latency-p99")


@mutation("sagemaker-endpoint-error-alarm", "monitoring-5xx-errors")
def error_alarm_actions_emptied(graph: Graph) -> None:
    for name in ("monitoring-5xx-errors", "monitoring-4xx-errors"):
        _set(_get(graph, name), "alarmActions", [])


# --- tagging and cost -------------------------------------------------------------------


@mutation("required-tags", "registry-repository")
def required_tag_removed(graph: Graph) -> None:
    _update(_get(graph, "registry-repository"), "tags", lambda tags: tags.pop("cost-center"))


@mutation("sagemaker-instance-type-allowed", "endpoint-config")
def instance_type_off_the_allowlist(graph: Graph) -> None:
    def bigger(variants: list[dict[str, Any]]) -> None:
        variants[0]["instanceType"] = "ml.p4d.24xlarge"

    _update(_get(graph, "endpoint-config"), "productionVariants", bigger)


@mutation("sagemaker-instance-count-capped", "endpoint-scaling-target")
def instance_count_above_the_cap(graph: Graph) -> None:
    _set(_get(graph, "endpoint-scaling-target"), "maxCapacity", 12.0)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_config() -> dict[str, Any]:
    return load_stack_config("prod").policy_pack_config()


@pytest.fixture(scope="module")
def prod_graph() -> Graph:
    plan = plan_stack("prod", overrides=SERVING)
    return [r.to_policy_input() for r in plan.resources]


@pytest.fixture(scope="module")
def prod_preview_graph() -> Graph:
    plan = plan_stack("prod", overrides=SERVING, preview=True)
    return [r.to_policy_input() for r in plan.resources]


@pytest.fixture(scope="module")
def baselines() -> dict[tuple[bool, str], Report]:
    """Reports of unmutated graphs, per (preview, setup), shared by the tests of a module."""
    return {}


def _prepared(graph: Graph, setup: Edit | None) -> Graph:
    copied = copy.deepcopy(graph)
    if setup is not None:
        setup(copied)
    return copied


def _check(
    m: Mutation,
    graph: Graph,
    config: Mapping[str, Any],
    baselines: dict[tuple[bool, str], Report],
    preview: bool,
) -> None:
    key = (preview, m.setup.__name__ if m.setup else "")
    if key not in baselines:
        baselines[key] = analyze(_prepared(graph, m.setup), config)
    before = baselines[key]
    # (a) the unmutated graph is clean for this policy
    assert [v for v in before.violations if v.policy == m.policy] == []
    assert [s for s in before.skipped if s.policy == m.policy] == []

    mutated = _prepared(graph, m.setup)
    m.edit(mutated)
    target = _get(mutated, m.target)["urn"]
    report = analyze(mutated, config)
    # (b) the intended policy reports the intended resource, and would block `pulumi up`
    found = [v for v in report.violations if v.policy == m.policy and v.urn == target]
    assert found, (
        f"{m.name}: no {m.policy} violation on {m.target}; got "
        f"{[(v.policy, v.urn.rsplit('::', 1)[-1]) for v in report.violations]}"
    )
    assert all(v.level == "mandatory" for v in found)
    # (c) the message names the resource and says how to fix it
    for violation in found:
        assert f"'{m.target}'" in violation.message, violation.message
        assert FIX_HINT.search(violation.message), violation.message
    # (d) the engine registers resources in whatever order their inputs resolve, so the
    # verdict must not depend on it
    if not preview:
        reordered = analyze(list(reversed(mutated)), config)
        assert _by_policy(reordered, m.policy) == _by_policy(report, m.policy), m.name


def _by_policy(report: Report, policy: str) -> set[tuple[str, str]]:
    return {(v.urn, v.message) for v in report.violations if v.policy == policy}


# --- tests ------------------------------------------------------------------------------


def test_unmutated_prod_graph_is_clean(prod_graph, prod_preview_graph, prod_config):
    for graph in (prod_graph, prod_preview_graph):
        report = analyze(copy.deepcopy(graph), prod_config)
        assert report.violations == ()
        assert report.skipped == ()


@pytest.mark.parametrize("setup", [add_secure_notebook, add_secure_training_job, add_secure_domain])
def test_secure_additions_are_clean(prod_graph, prod_preview_graph, prod_config, setup):
    for graph in (prod_graph, prod_preview_graph):
        report = analyze(_prepared(graph, setup), prod_config)
        assert report.violations == ()
        assert report.skipped == ()


@pytest.mark.parametrize("m", MUTATIONS, ids=lambda m: m.name)
def test_mutation_is_reported(m, prod_graph, prod_config, baselines):
    _check(m, prod_graph, prod_config, baselines, preview=False)


PREVIEW_MUTATIONS = [m for m in MUTATIONS if m.preview]


@pytest.mark.parametrize("m", PREVIEW_MUTATIONS, ids=lambda m: f"preview-{m.name}")
def test_mutation_is_reported_in_preview(m, prod_preview_graph, prod_config, baselines):
    _check(m, prod_preview_graph, prod_config, baselines, preview=True)


@pytest.mark.parametrize(
    "m", [m for m in MUTATIONS if not m.preview], ids=lambda m: f"preview-{m.name}"
)
def test_mutations_marked_normal_only_edit_values_unknown_in_preview(m, prod_preview_graph):
    with pytest.raises(NotApplicable):
        m.edit(_prepared(prod_preview_graph, m.setup))


def test_a_bucket_logging_into_itself_keeps_its_data_bucket_requirements(prod_graph, prod_config):
    """Pointing a data bucket's logs at itself must not turn it into an exempt log bucket
    (log targets need SSE-S3 and no logging of their own)."""
    graph = copy.deepcopy(prod_graph)
    bucket_logs_to_itself(graph)
    report = analyze(graph, prod_config)
    models = {_get(graph, name)["urn"] for name in ("storage-models", "storage-models-encryption")}
    assert [v for v in report.violations if v.urn in models and v.policy.startswith("s3-")] == []


def test_the_suite_is_broad_enough():
    names = [m.name for m in MUTATIONS]
    assert len(names) == len(set(names))
    assert len(MUTATIONS) >= MIN_MUTATIONS
    assert len(PREVIEW_MUTATIONS) >= MIN_PREVIEW_MUTATIONS


def test_distinct_policies_exercised():
    assert len({m.policy for m in MUTATIONS}) >= MIN_DISTINCT_POLICIES
