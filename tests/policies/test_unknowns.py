"""Unknown values (preview) are never violations; absent values are."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from pulumi_policy import ResourceValidationPolicy

from policies import offline
from policies.offline import UNKNOWN, analyze, resource
from policies.registry import ALL_POLICIES

PACKAGE_DIR = Path(offline.__file__).parent
# Policies whose violation is the resource's existence, not a property value.
EXISTENCE_POLICIES = {"iam-no-user-access-keys"}


def _property_names() -> set[str]:
    """Every camelCase-looking string constant in the pack: a superset of the keys read."""
    names: set[str] = set()
    for path in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"[a-z][A-Za-z0-9]*", node.value):
                    names.add(node.value)
    return names


ALL_UNKNOWN = {name: UNKNOWN for name in _property_names()}
RESOURCE_CASES = [
    pytest.param(policy.name, type_, id=f"{policy.name}:{type_.rsplit(':', 1)[-1]}")
    for policy in ALL_POLICIES
    if isinstance(policy, ResourceValidationPolicy) and policy.name not in EXISTENCE_POLICIES
    for type_ in sorted(policy.resource_types)[: 3 if policy.name == "required-tags" else None]
]


@pytest.mark.parametrize("policy, type_", RESOURCE_CASES)
def test_resource_policy_with_unknown_properties_reports_nothing(policy, type_):
    report = analyze([resource(type_, "preview", ALL_UNKNOWN)])
    assert [v for v in report.violations if v.policy == policy] == []
    assert report.skipped == ()  # no policy let the SDK's UnknownValueError escape


def _unknown_companions(stack):
    bucket = stack[0]
    return [bucket] + [{**r, "inputs": {k: UNKNOWN for k in r["inputs"]}} for r in stack[1:]]


def test_stack_policies_with_unknown_companion_properties_report_nothing(compliant_bucket):
    report = analyze(_unknown_companions(compliant_bucket(by_dependency=True)))
    assert [v for v in report.violations if v.policy.startswith("s3-")] == []
    assert report.skipped == ()


def test_unknown_alarm_linked_by_dependency_is_not_a_violation():
    endpoint = resource("aws:sagemaker/endpoint:Endpoint", "churn", {"endpointConfigName": UNKNOWN})
    alarm = resource(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "churn-alarm",
        {
            "metricName": UNKNOWN,
            "namespace": UNKNOWN,
            "dimensions": UNKNOWN,
            "alarmActions": UNKNOWN,
        },
        property_dependencies={"dimensions": [endpoint["urn"]]},
    )
    report = analyze([endpoint, alarm])
    assert [v for v in report.violations if v.policy.startswith("sagemaker-endpoint-")] == []


def test_unknown_capture_config_does_not_mark_a_capture_bucket():
    bucket = resource("aws:s3/bucket:Bucket", "maybe-capture", {})
    config = resource(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        "serving",
        {"dataCaptureConfig": UNKNOWN, "kmsKeyArn": UNKNOWN},
        property_dependencies={"dataCaptureConfig": [bucket["urn"]]},
    )
    report = analyze([bucket, config])
    assert [v for v in report.violations if v.policy == "s3-capture-bucket-lifecycle"] == []


@pytest.mark.parametrize(
    "case",
    [
        ("kms-key-rotation-enabled", "aws:kms/key:Key", "enableKeyRotation", "does not rotate"),
        (
            "sagemaker-notebook-root-access-disabled",
            "aws:sagemaker/notebookInstance:NotebookInstance",
            "rootAccess",
            "gives users root access",
        ),
        (
            "ecr-image-tag-immutable",
            "aws:ecr/repository:Repository",
            "imageTagMutability",
            "allows tags",
        ),
        (
            "cloudwatch-log-group-retention",
            "aws:cloudwatch/logGroup:LogGroup",
            "retentionInDays",
            "never expires",
        ),
        (
            "sagemaker-endpoint-config-kms",
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "kmsKeyArn",
            "does not encrypt",
        ),
    ],
)
def test_absent_is_reported_but_unknown_is_not(assert_violation, assert_passes, case):
    policy, type_, key, absent_message = case
    assert_violation(policy, [resource(type_, "r", {})], absent_message)
    assert_passes(policy, [resource(type_, "r", {key: UNKNOWN})])


def test_sdk_unknown_value_errors_are_reported_as_skipped_not_violations(monkeypatch):
    # A naive policy that indexes an unknown property: the SDK answers with its advisory
    # "can't run policy ... during preview" note, which is not a violation.
    def naive(args, report):
        if args.props["acl"] != "private":
            report("public")

    policy = ResourceValidationPolicy(
        name="naive-acl", description="Checks that naive.", validate=naive
    )
    monkeypatch.setattr(offline, "ALL_POLICIES", [*ALL_POLICIES, policy])
    monkeypatch.setattr(offline, "POLICIES_BY_NAME", {p.name: p for p in [*ALL_POLICIES, policy]})
    bucket = resource("aws:s3/bucket:Bucket", "b", {"acl": UNKNOWN})
    report = analyze([bucket])
    assert [v for v in report.violations if v.policy == "naive-acl"] == []
    assert [(s.policy, s.urn) for s in report.skipped] == [("naive-acl", bucket["urn"])]
    assert "during preview" in report.skipped[0].message
    assert [
        v.policy
        for v in analyze([resource("aws:s3/bucket:Bucket", "b", {"acl": "public-read"})]).violations
        if v.policy == "naive-acl"
    ] == ["naive-acl"]
