"""The offline evaluator: parity details with the CLI, repeatability, input validation."""

from __future__ import annotations

import pytest
from pulumi.output import Unknown
from pulumi.runtime import settings
from pulumi.runtime.config import CONFIG
from pulumi_policy import StackValidationPolicy

from policies import offline
from policies.offline import (
    UNKNOWN,
    ResourceFormatError,
    Violation,
    analyze,
    evaluate,
    list_policies,
    resource,
)
from policies.registry import ALL_POLICIES

BUCKET = "aws:s3/bucket:Bucket"


def _insecure_stack():
    return [
        resource("pulumi:pulumi:Stack", "mlops-platform-dev", {}, custom=False),
        resource(BUCKET, "data", {"acl": "public-read", "forceDestroy": True}),
        resource("aws:iam/accessKey:AccessKey", "ci", {"user": "ci"}),
        resource("aws:ec2/vpc:Vpc", "ml", {"cidrBlock": "10.0.0.0/16"}),
    ]


def test_evaluate_is_repeatable_in_one_process():
    first = evaluate(_insecure_stack())
    assert first and all(isinstance(v, Violation) for v in first)
    for _ in range(50):
        assert evaluate(_insecure_stack()) == first
    # A different config in between must not leak into later calls.
    assert {v.level for v in evaluate(_insecure_stack(), {"all": "advisory"})} == {"advisory"}
    assert evaluate(_insecure_stack()) == first


def test_resource_violations_carry_the_resource_urn_and_policy_message():
    stack = _insecure_stack()
    found = [v for v in evaluate(stack) if v.policy == "iam-no-user-access-keys"]
    assert found == [
        Violation("iam-no-user-access-keys", "mandatory", stack[2]["urn"], found[0].message)
    ]
    assert found[0].message.startswith("IAM access key 'ci'")  # the description prefix is stripped


def test_report_passed_reflects_mandatory_violations():
    assert not analyze(_insecure_stack()).passed
    assert analyze(_insecure_stack(), {"all": "advisory"}).passed
    assert analyze([]).violations == ()


def _stack_policy_reporting(urn):
    def validate(args, report):
        report("stack-wide finding", urn)

    return StackValidationPolicy(name="probe", description="Checks that probe.", validate=validate)


@pytest.mark.parametrize(
    "reported, expected_index",
    [("", 0), ("urn:pulumi:dev::mlops-platform::aws:s3/bucket:Bucket::gone", 0), (None, 1)],
)
def test_stack_violation_urn_falls_back_to_the_root_stack(monkeypatch, reported, expected_index):
    stack = _insecure_stack()
    urn = stack[1]["urn"] if reported is None else reported
    probe = _stack_policy_reporting(urn)
    monkeypatch.setattr(offline, "ALL_POLICIES", [probe])
    monkeypatch.setattr(offline, "POLICIES_BY_NAME", {"probe": probe})
    assert [v.urn for v in evaluate(stack)] == [stack[expected_index]["urn"]]


def test_root_stack_urn_is_derived_when_the_stack_resource_is_missing(monkeypatch):
    probe = _stack_policy_reporting("")
    monkeypatch.setattr(offline, "ALL_POLICIES", [probe])
    monkeypatch.setattr(offline, "POLICIES_BY_NAME", {"probe": probe})
    found = evaluate([resource(BUCKET, "data", {}, stack="prod", project="mlops")])
    assert [v.urn for v in found] == ["urn:pulumi:prod::mlops::pulumi:pulumi:Stack::mlops-prod"]


def test_stack_policies_see_outputs_over_inputs_for_custom_resources():
    # Versioning known only from the recorded outputs (e.g. a deployed sandbox state).
    bucket = resource(BUCKET, "data", {"bucket": "data"}, outputs={"versioning": {"enabled": True}})
    assert not [v for v in evaluate([bucket]) if v.policy == "s3-bucket-versioned"]


def test_stack_policies_see_only_registered_outputs_of_components():
    # A component's inputs are not part of its stack-level view (the engine sends outputs).
    component = resource(BUCKET, "data", {"versioning": {"enabled": True}}, custom=False)
    assert [v.policy for v in evaluate([component]) if v.policy == "s3-bucket-versioned"] == [
        "s3-bucket-versioned"
    ]


def test_internal_keys_are_stripped_like_the_engine_does():
    bucket = resource(
        BUCKET, "data", {"__defaults": ["bucket"], "forceDestroy": True, "nested": {"__x": 1}}
    )
    assert offline._strip_internal(bucket["inputs"]) == {"forceDestroy": True, "nested": {}}
    assert any(v.policy == "s3-bucket-no-force-destroy" for v in evaluate([bucket]))


def test_sdk_unknown_objects_in_captured_outputs_become_the_wire_sentinel():
    # A mocks capture in preview may keep pulumi.output.Unknown objects in outputs.
    bucket = resource(BUCKET, "data", {"bucket": "data"})
    versioning = resource(
        "aws:s3/bucketVersioning:BucketVersioning",
        "data-versioning",
        {"bucket": "data", "versioningConfiguration": {"status": "Enabled"}},
        outputs={"bucket": Unknown(), "id": Unknown()},
        property_dependencies={"bucket": [bucket["urn"]]},
    )
    assert offline._strip_internal({"a": [Unknown()]}) == {"a": [UNKNOWN]}
    assert not [v for v in evaluate([bucket, versioning]) if v.policy == "s3-bucket-versioned"]


def test_evaluate_leaves_the_pulumi_runtime_alone(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", '{"probe:key": "value"}')
    for name, value in (("PULUMI_PROJECT", "p"), ("PULUMI_STACK", "s"), ("PULUMI_DRY_RUN", "true")):
        monkeypatch.setenv(name, value)
    before = (settings.get_project(), settings.get_stack(), dict(CONFIG.get()))
    evaluate(_insecure_stack())
    # The SDK's Analyze would call set_config/configure from these variables; offline must not.
    assert (settings.get_project(), settings.get_stack(), dict(CONFIG.get())) == before


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"name": "x", "urn": "u"}, "'type' must be a non-empty string"),
        (
            {"type": BUCKET, "name": "x", "urn": "u", "inputs": {"a": {1, 2}}},
            "properties must be JSON-like",
        ),
        (
            {"type": BUCKET, "name": "x", "urn": "u", "dependencies": 3},
            "'dependencies' must be Sequence",
        ),
        ("not a mapping", "must be a mapping"),
    ],
)
def test_malformed_resources_raise(bad, message):
    with pytest.raises(ResourceFormatError, match=message):
        evaluate([bad])


def test_resource_builder_records_property_dependencies_as_dependencies():
    built = resource(
        BUCKET,
        "x",
        {"bucket": UNKNOWN},
        dependencies=["urn:a"],
        property_dependencies={"bucket": ["urn:b"]},
    )
    assert built["dependencies"] == ["urn:a", "urn:b"]
    assert built["urn"] == "urn:pulumi:dev::mlops-platform::aws:s3/bucket:Bucket::x"


def test_list_policies_describes_every_policy():
    infos = list_policies()
    assert [i.name for i in infos] == [p.name for p in ALL_POLICIES]
    assert {i.kind for i in infos} == {"resource", "stack"}
    assert all(i.level == i.default_level for i in infos)
    assert all(i.resource_types for i in infos)
    by_name = {i.name: i for i in infos}
    assert (
        by_name["sagemaker-instance-count-capped"].config_schema["maxInstanceCount"]["type"]
        == "integer"
    )
