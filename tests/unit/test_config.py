"""StackConfig: the shipped stacks load, bad config fails with a specific message, and the
engine path reads exactly what the stack file says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import (
    ConfigError,
    Environment,
    StackConfig,
    UnknownStackError,
    config_keys,
    engine_values,
    load_config,
    load_project,
    load_stack_config,
    parse_config,
)
from infra.plan import run_program
from infra.project_file import declarations

REPO = Path(__file__).resolve().parents[2]
STACKS = ["local", "dev", "staging", "prod"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_loads(stack: str) -> None:
    cfg = load_stack_config(stack, REPO)
    assert cfg.stack == stack
    assert cfg.environment == Environment(stack)
    assert cfg.project == "mlops-platform"
    assert cfg.tags["owner"] and cfg.tags["cost-center"]


def test_environments_differ_only_by_data() -> None:
    local, dev, staging, prod = (load_stack_config(s, REPO) for s in STACKS)
    assert not local.network.enabled and not dev.network.enabled
    assert staging.network.enabled and prod.network.isolated and prod.network.az_count == 3
    assert local.training.runner == "local" and prod.training.runner == "sagemaker"
    assert prod.endpoint.min_instances >= 2 and dev.endpoint.max_instances == 1
    assert prod.endpoint.data_capture_percent > dev.endpoint.data_capture_percent > 0
    assert prod.allowed_account_ids and prod.storage.object_lock
    assert not prod.registry.auto_approve and dev.registry.auto_approve
    # Dev and prod ship without a served model; staging names an example one.
    assert not dev.endpoint.serves_model and not prod.endpoint.serves_model
    assert staging.endpoint.serves_model
    assert prod.policy_pack_config()["all"] == "mandatory"
    assert dev.policy_pack_config()["s3-bucket-versioned"] == "mandatory"


def test_config_is_frozen() -> None:
    cfg = load_stack_config("dev", REPO)
    with pytest.raises(ValueError):
        cfg.endpoint.min_instances = 5  # type: ignore[misc]


# (override, key named in the error, text the message must contain)
BAD: list[tuple[dict[str, Any], str, str]] = [
    (
        {"mlops-platform:endpointMinInstance": 2},
        "endpointMinInstance",
        "did you mean mlops-platform:endpointMinInstances",
    ),
    ({"mlops-platform:networkCidr": "10.0.0.0/33"}, "networkCidr", "not an IPv4 CIDR block"),
    ({"mlops-platform:networkCidr": "10.0.0.0/8"}, "networkCidr", "outside /16../24"),
    ({"mlops-platform:networkCidr": "8.8.0.0/16"}, "networkCidr", "private"),
    ({"aws:region": "eu-west-9"}, "aws:region", "did you mean eu-west-"),
    (
        {"mlops-platform:endpointInstanceType": "ml.m5.larg"},
        "endpointInstanceType",
        "did you mean ml.m5.large",
    ),
    (
        {"mlops-platform:trainingInstanceTypes": ["ml.p9.huge"]},
        "trainingInstanceTypes",
        "not a SageMaker TrainingInstanceType",
    ),
    (
        {"mlops-platform:endpointDataCapturePercent": 150},
        "endpointDataCapturePercent",
        "less than or equal to 100",
    ),
    (
        {"mlops-platform:endpointDataCapturePercent": 0},
        "endpointDataCapturePercent",
        "prod must capture",
    ),
    (
        {"mlops-platform:retrainingSchedule": "cron(0 3 * * MON *)"},
        "retrainingSchedule",
        "One must be a question mark",
    ),
    (
        {"mlops-platform:retrainingSchedule": "every day"},
        "retrainingSchedule",
        "not an EventBridge schedule",
    ),
    (
        {"mlops-platform:endpointMinInstances": 1},
        "endpointMinInstances",
        "at least 2 endpoint instances",
    ),
    ({"aws:allowedAccountIds": []}, "aws:allowedAccountIds", "exactly one"),
    (
        {"aws:allowedAccountIds": ["12345"]},
        "aws:allowedAccountIds",
        "not a 12-digit AWS account id",
    ),
    ({"mlops-platform:networkIsolated": False}, "networkIsolated", "isolated VPC"),
    ({"mlops-platform:endpointMinInstances": "two"}, "endpointMinInstances", "valid integer"),
    ({"mlops-platform:endpointMaxInstances": 1}, "endpointMaxInstances", "exceed max instances"),
    ({"mlops-platform:environment": "qa"}, "environment", "'local', 'dev', 'staging' or 'prod'"),
    (
        {"mlops-platform:policyOverrides": ["s3-bucket-versioned"]},
        "policyOverrides",
        "not policy-name=level",
    ),
    (
        {"mlops-platform:monitoringLogRetentionDays": 100},
        "monitoringLogRetentionDays",
        "nearest: 90",
    ),
    (
        {"mlops-platform:monitoringAlertEmails": ["oncall"]},
        "monitoringAlertEmails",
        "not an e-mail address",
    ),
    ({"mlops-platform:endpointModelImage": "serving-1.0"}, "endpointModelDataKey", "go together"),
    (
        {"mlops-platform:endpointModelPackageArn": "arn:aws:s3:::x"},
        "endpointModelPackageArn",
        "not a SageMaker model package ARN",
    ),
    ({"mlops-platform:ciGithubRepository": "not a repo"}, "ciGithubRepository", "owner/name"),
    ({"mlops-platform:trainingRunner": "kubernetes"}, "trainingRunner", "Kubernetes is disabled"),
    (
        {"mlops-platform:storageCaptureTransitionDays": 400},
        "storageCaptureExpirationDays",
        "expire",
    ),
    (
        {"mlops-platform:storageCaptureTransitionDays": 10},
        "storageCaptureTransitionDays",
        "30 days old",
    ),
    ({"mlops-platform:endpointBakeSeconds": 900}, "endpointBakeSeconds", "at most 60 minutes"),
    ({"mlops-platform:endpointCanaryPercent": 5}, "endpointCanaryPercent", "at least 10%"),
    ({"mlops-platform:kubernetesNamespace": "ML_Team"}, "kubernetesNamespace", "DNS-1123"),
    ({"mlops-platform:ciMlEnvironment": "prod"}, "ciMlEnvironment", "could then assume"),
    ({"mlops-platform:ciStateBucket": "s3://acme-state"}, "ciStateBucket", "S3 bucket name"),
    (
        {"mlops-platform:ciSecretsKmsKeyArn": "arn:aws:kms:eu-west-1:777788889999:alias/pulumi"},
        "ciSecretsKmsKeyArn",
        "cannot grant by alias",
    ),
    ({"mlops-platform:kubernetesServingCpu": "lots"}, "kubernetesServingCpu", "CPU quantity"),
    (
        {"mlops-platform:kubernetesIngressCidrs": ["10.40.0.1/16"]},
        "kubernetesIngressCidrs",
        "not a CIDR block",
    ),
    ({"mlops-platform:kubernetesClusterName": "my cluster"}, "kubernetesClusterName", "EKS"),
    (
        {
            "mlops-platform:kubernetesEnabled": True,
            "mlops-platform:kubernetesOidcProviderArn": (
                "arn:aws:iam::777788889999:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AB"
            ),
        },
        "kubernetesClusterName",
        "which cluster to connect to",
    ),
    ({"mlops-platform:kubernetesServingMemory": "1GB"}, "kubernetesServingMemory", "memory"),
    (
        {"mlops-platform:kubernetesServingMaxReplicas": 1},
        "kubernetesServingMaxReplicas",
        "fewer than the 2",
    ),
    (
        {"mlops-platform:kubernetesQuotaMemory": "512Mi"},
        "kubernetesQuotaCpu",
        "would not fit in the namespace quota",
    ),
    (
        {"mlops-platform:kubernetesIngressNamespaces": ["Ingress"]},
        "kubernetesIngressNamespaces",
        "not a namespace name",
    ),
    (
        {
            "mlops-platform:endpointModelPackageArn": (
                "arn:aws:sagemaker:eu-west-1:777788889999:model-package/churn/3"
            ),
            "mlops-platform:kubernetesEnabled": True,
            "mlops-platform:kubernetesOidcProviderArn": (
                "arn:aws:iam::777788889999:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AB"
            ),
        },
        "endpointModelPackageArn",
        "not by model package",
    ),
    (
        {"mlops-platform:kubernetesEnabled": True},
        "kubernetesOidcProviderArn",
        "pods would have no AWS credentials",
    ),
    (
        {"mlops-platform:kubernetesOidcProviderArn": "oidc.eks.eu-west-1.amazonaws.com/id/AB"},
        "kubernetesOidcProviderArn",
        "not an IAM OIDC provider ARN",
    ),
    (
        {
            "mlops-platform:kubernetesOidcProviderArn": (
                "arn:aws:iam::999999999999:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/AB"
            ),
            "mlops-platform:kubernetesEnabled": True,
        },
        "kubernetesOidcProviderArn",
        "names account 999999999999",
    ),
    (
        {"mlops:networkCidr": "10.0.0.0/16"},
        "mlops:networkCidr",
        "did you mean mlops-platform:networkCidr",
    ),
    ({"networkCidr": "10.0.0.0/16"}, "networkCidr", "not namespaced"),
]


@pytest.mark.parametrize(
    ("override", "key", "text"), BAD, ids=[b[1] + "-" + str(i) for i, b in enumerate(BAD)]
)
def test_bad_config_names_file_key_value_and_fix(
    override: dict[str, Any], key: str, text: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_stack_config("prod", REPO, overrides=override)
    message = str(info.value)
    assert message.startswith("stacks/Pulumi.prod.yaml: invalid stack configuration")
    problem = next(p for p in info.value.problems if key in p.key)
    assert text in str(problem), str(problem)
    assert "Fix:" in str(problem)
    value = next(iter(override.values()))
    if problem.key in override:
        assert problem.value == value


def test_distinct_messages_for_each_bad_config() -> None:
    messages = set()
    for override, _key, _text in BAD:
        with pytest.raises(ConfigError) as info:
            load_stack_config("prod", REPO, overrides=override)
        messages.add(info.value.problems[0].message)
    assert len(messages) >= 12


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_stack_config(
            "dev",
            REPO,
            overrides={"mlops-platform:networkCidrr": "x", "mlops-platform:endpointMinInstancs": 3},
        )
    assert {p.key for p in info.value.problems} == {
        "mlops-platform:networkCidrr",
        "mlops-platform:endpointMinInstancs",
    }


def test_misspelt_key_in_a_stack_file(write_stack: Any, project_copy: Path) -> None:
    config = yaml.safe_load((project_copy / "stacks/Pulumi.dev.yaml").read_text())["config"]
    config["mlops-platform:endpointInstanceTyp"] = config.pop("mlops-platform:endpointMaxInstances")
    write_stack("dev", config)
    with pytest.raises(ConfigError) as info:
        load_stack_config("dev")
    text = str(info.value)
    assert "stacks/Pulumi.dev.yaml" in text
    assert "mlops-platform:endpointInstanceTyp = 1" in text
    assert "did you mean mlops-platform:endpointInstanceType?" in text


def test_missing_required_key(write_stack: Any) -> None:
    write_stack("qa", {"aws:region": "eu-west-1"})
    with pytest.raises(ConfigError) as info:
        load_stack_config("qa")
    assert "mlops-platform:environment = (not set): is required" in str(info.value)
    assert "aws:allowedAccountIds = (not set): is required" in str(info.value)


def test_invalid_yaml_says_where(project_copy: Path) -> None:
    (project_copy / "stacks/Pulumi.broken.yaml").write_text("config:\n  a: [1,\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_stack_config("broken")


def test_secrets_are_refused_offline(write_stack: Any) -> None:
    write_stack("sec", {"mlops-platform:owner": {"secure": "AAAB"}})
    with pytest.raises(ConfigError, match="no key of this project is a secret"):
        load_stack_config("sec")


def test_unknown_stack_lists_the_known_ones() -> None:
    with pytest.raises(UnknownStackError) as info:
        load_stack_config("nope", REPO)
    assert info.value.known == STACKS_SORTED
    assert "Known stacks: dev, local, prod, staging" in str(info.value)


STACKS_SORTED = sorted(STACKS)


def test_other_providers_keys_pass_through() -> None:
    cfg = load_stack_config(
        "dev", REPO, overrides={"aws:profile": "dev", "kubernetes:context": "kind"}
    )
    assert cfg.region == "eu-west-1"


@pytest.mark.parametrize("stack", STACKS)
def test_engine_reads_the_same_config_as_the_stack_file(stack: str) -> None:
    """Under the engine, values arrive as strings (arrays as JSON): same StackConfig."""
    project = load_project(REPO)
    values = {**project.defaults, **project.stack_values(stack)}
    seen: list[StackConfig] = []
    run_program(
        lambda: seen.append(load_config()),
        project=project.name,
        stack=stack,
        config=engine_values(values),
    )
    assert seen == [load_stack_config(stack, REPO)]


def test_engine_config_errors_name_the_stack() -> None:
    with pytest.raises(ConfigError, match="stack 'dev' config"):
        parse_config(
            {"mlops-platform:networkAzCount": "[1"},
            project="mlops-platform",
            stack="dev",
            source="stack 'dev' config",
            from_engine=True,
        )


def test_pulumi_yaml_declares_every_key_with_type_description_default() -> None:
    """Pulumi.yaml's config block is generated from the model; regenerate when this fails:
    python -m infra.project_file"""
    data = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert data["stackConfigDir"] == "stacks" and data["main"] == "infra/"
    assert data["config"] == declarations(data["config"])
    project_keys = [k.split(":", 1)[1] for k in config_keys() if k.startswith("mlops-platform:")]
    assert list(data["config"]) == project_keys
    for decl in data["config"].values():
        assert decl["type"] in {"string", "integer", "boolean", "array"}
        assert decl["description"]


def test_stack_files_hold_only_what_differs() -> None:
    project = load_project(REPO)
    for stack in STACKS:
        values = project.stack_values(stack)
        for key, value in values.items():
            spec = config_keys().get(key)
            if spec is None or spec.required:
                continue
            default = project.defaults.get(key, spec.default)
            default = list(default) if isinstance(default, tuple) else default
            assert value != default, f"{stack}: {key} repeats the default {default!r}"


def test_policy_overrides_merge_into_pack_config() -> None:
    cfg = load_stack_config(
        "dev",
        REPO,
        overrides={"mlops-platform:policyOverrides": ["required-tags=mandatory"]},
    )
    pack = cfg.policy_pack_config()
    assert pack["required-tags"]["enforcementLevel"] == "mandatory"
    assert pack["required-tags"]["tags"] == ["owner", "cost-center", "environment", "project"]
    assert "ml.m5.large" in pack["sagemaker-instance-type-allowed"]["allowedInstanceTypes"]


@pytest.mark.parametrize("stack", STACKS)
def test_policy_pack_config_files_match_the_stack_files(stack: str) -> None:
    """policies/config/<stack>.json is generated; regenerate: python -m infra.policy_config"""
    from infra.policy_config import config_file, render

    assert config_file(stack, REPO).read_text(encoding="utf-8") == render(stack, REPO)
