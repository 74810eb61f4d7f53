"""Enforcement levels and policy config, resolved as `pulumi preview --policy-pack-config` does."""

from __future__ import annotations

import json

import pytest

from policies.offline import (
    ENVIRONMENTS,
    PolicyConfigError,
    config_path,
    evaluate,
    list_policies,
    load_config,
    resolve_config,
    resource,
)

BUCKET = "aws:s3/bucket:Bucket"
# Violates one advisory-by-default policy and one mandatory-by-default policy.
FORCE_DESTROY = resource(BUCKET, "scratch", {"forceDestroy": True, "acl": "public-read"})


def _levels(config=None):
    found = evaluate([FORCE_DESTROY], config)
    return {
        v.policy: v.level
        for v in found
        if v.policy in ("s3-bucket-no-force-destroy", "s3-bucket-no-public-acl")
    }


def test_default_levels_without_config():
    assert _levels() == {
        "s3-bucket-no-force-destroy": "advisory",
        "s3-bucket-no-public-acl": "mandatory",
    }


def test_all_sets_every_policy():
    assert _levels({"all": "mandatory"}) == {
        "s3-bucket-no-force-destroy": "mandatory",
        "s3-bucket-no-public-acl": "mandatory",
    }
    assert _levels({"all": {"enforcementLevel": "advisory"}}) == {
        "s3-bucket-no-force-destroy": "advisory",
        "s3-bucket-no-public-acl": "advisory",
    }


def test_per_policy_entry_overrides_all_whatever_the_key_order():
    for config in (
        {"all": "mandatory", "s3-bucket-no-public-acl": "advisory"},
        {"s3-bucket-no-public-acl": {"enforcementLevel": "advisory"}, "all": "mandatory"},
    ):
        assert _levels(config) == {
            "s3-bucket-no-force-destroy": "mandatory",
            "s3-bucket-no-public-acl": "advisory",
        }


def test_disabled_policy_reports_nothing():
    assert _levels({"s3-bucket-no-public-acl": "disabled"}) == {
        "s3-bucket-no-force-destroy": "advisory"
    }
    assert _levels({"all": "disabled", "s3-bucket-no-force-destroy": "mandatory"}) == {
        "s3-bucket-no-force-destroy": "mandatory"
    }


def test_remediate_is_reported_as_mandatory():
    # pulumi_policy downgrades remediate to mandatory for validation-only policies.
    assert (
        _levels({"s3-bucket-no-force-destroy": "remediate"})["s3-bucket-no-force-destroy"]
        == "mandatory"
    )


def test_properties_without_level_keep_the_default_level():
    config = {"sagemaker-instance-count-capped": {"maxInstanceCount": 1}}
    info = {i.name: i for i in list_policies(config)}["sagemaker-instance-count-capped"]
    assert (info.level, info.config) == ("mandatory", {"maxInstanceCount": 1})


def test_schema_defaults_fill_unset_properties():
    info = {i.name: i for i in list_policies()}
    assert info["required-tags"].config == {"tags": ["owner", "cost-center"]}
    assert info["cloudwatch-log-group-retention"].config == {"minRetentionDays": 30}
    assert info["s3-bucket-versioned"].config == {}


def test_all_is_forwarded_like_the_cli_does():
    # applyConfig adds "all" itself to the config sent to Configure; the SDK ignores it.
    resolved = resolve_config({"all": "mandatory"})
    assert resolved["all"].level == "mandatory"
    assert {entry.level for name, entry in resolved.items()} == {"mandatory"}


@pytest.mark.parametrize(
    "config, expected",
    [
        (
            {"sagemaker-instance-count-capped": {"maxInstanceCount": "four"}},
            "sagemaker-instance-count-capped.maxInstanceCount: 'four' is not of type 'integer'",
        ),
        (
            {"sagemaker-instance-count-capped": {"maxInstanceCount": 0}},
            "sagemaker-instance-count-capped.maxInstanceCount: 0 is less than the minimum of 1",
        ),
        (
            {"sagemaker-instance-type-allowed": {"allowedInstanceTypes": "ml.m5.large"}},
            "sagemaker-instance-type-allowed.allowedInstanceTypes: 'ml.m5.large' is not of type",
        ),
        (
            {"sagemaker-instance-type-allowed": {"allowedInstanceTypes": ["m5.large"]}},
            "sagemaker-instance-type-allowed.allowedInstanceTypes.0: 'm5.large' does not match",
        ),
        ({"required-tags": {"tags": [""]}}, "required-tags.tags.0: ''"),
        (
            {"cloudwatch-log-group-retention": {"minRetentionDays": 7.5}},
            "cloudwatch-log-group-retention.minRetentionDays: 7.5 is not of type 'integer'",
        ),
        (
            {"required-tags": {"tag": ["owner"]}},
            "required-tags.tag: not a property of this policy (allowed: tags)",
        ),
    ],
)
def test_schema_invalid_config_raises(config, expected):
    with pytest.raises(PolicyConfigError) as error:
        evaluate([FORCE_DESTROY], config)
    assert expected in str(error.value)
    assert "--policy-pack-config" in str(error.value)  # says where to fix


@pytest.mark.parametrize(
    "config, expected",
    [
        (
            {"all": "strict"},
            "'all': 'strict' is not a valid enforcement level; use one of advisory, mandatory",
        ),
        (
            {"required-tags": {"enforcementLevel": "warn"}},
            "'required-tags.enforcementLevel': 'warn' is not a valid",
        ),
        ({"required-tags": 5}, "'required-tags': 5 is not valid; use a level string"),
        (
            {"s3-bucket-versionned": "mandatory"},
            "unknown policy 's3-bucket-versionned'; did you mean 's3-bucket-versioned'?",
        ),
        (
            {"all": {"enforcementLevel": "mandatory", "tags": ["x"]}},
            "'all' accepts only an enforcement level",
        ),
    ],
)
def test_bad_levels_and_names_raise(config, expected):
    with pytest.raises(PolicyConfigError) as error:
        list_policies(config)
    assert expected in str(error.value)


def test_integer_config_survives_the_wire_as_a_number():
    found = evaluate(
        [
            resource(
                "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
                "c",
                {
                    "productionVariants": [
                        {"instanceType": "ml.m5.large", "initialInstanceCount": 3.0}
                    ]
                },
            )
        ],
        {"sagemaker-instance-count-capped": {"maxInstanceCount": 2}},
    )
    assert any("above the cap of 2." in v.message for v in found)


def test_load_config_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(PolicyConfigError, match="broken.json is not valid JSON"):
        load_config(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[]", encoding="utf-8")
    with pytest.raises(PolicyConfigError, match="must be a JSON object"):
        load_config(listed)
    empty = tmp_path / "empty.json"
    empty.write_text("  \n", encoding="utf-8")
    assert load_config(empty) == {}  # the CLI accepts an empty file as "no config"
    with pytest.raises(PolicyConfigError, match="unknown environment 'qa'"):
        config_path("qa")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_config_files_are_valid(environment):
    path = config_path(environment)
    assert json.loads(path.read_text(encoding="utf-8")) == load_config(path)
    assert list_policies(load_config(path))  # validates names, levels and schemas


def _mandatory_share(environment):
    infos = list_policies(load_config(config_path(environment)))
    return sum(i.level == "mandatory" for i in infos) / len(infos), {i.level for i in infos}


def test_environments_get_stricter_towards_prod():
    shares = {env: _mandatory_share(env) for env in ENVIRONMENTS}
    assert shares["prod"] == (1.0, {"mandatory"})
    assert shares["staging"][0] >= 0.9
    assert {"advisory", "mandatory"} <= shares["dev"][1]
    assert {"advisory", "mandatory"} <= shares["local"][1]
    assert shares["local"][0] <= shares["dev"][0] < shares["staging"][0]
