"""Integration fixtures: one embedded emulator (moto's server on loopback) per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.sandbox import sandbox
from infra.sandbox.emulator import Emulator
from ml.stack import StackHandle, open_stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A moto server started once per session (per xdist worker) and stopped at the end."""
    running = Emulator.start(state_dir=tmp_path_factory.mktemp("emulator"))
    yield running
    running.stop()


@pytest.fixture
def clean_emulator(emulator: Emulator) -> Emulator:
    """The session's emulator, emptied of every resource before the test."""
    emulator.reset()
    return emulator


@pytest.fixture
def sandbox_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's Pulumi.yaml and stacks/, so sandbox state stays in tmp."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    monkeypatch.setenv("MLOPS_PROJECT_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def ephemeral_stack(clean_emulator: Emulator, sandbox_project: Path) -> Iterator[StackHandle]:
    """The `local` stack deployed into the emulator; destroyed afterwards, and the
    emulator checked to hold nothing the stack made."""
    sandbox.up("local", root=sandbox_project, endpoint=clean_emulator.url)
    handle = open_stack("local", sandbox_project)
    yield handle
    sandbox.down("local", root=sandbox_project, keep_emulator=True)
    assert leftovers(clean_emulator, handle.outputs.region, "mlops-platform-local") == []


def leftovers(emulator: Emulator, region: str, prefix: str) -> list[str]:
    """Everything in the emulator that a stack with this name prefix made and left behind."""
    client = lambda service: emulator.client(service, region)  # noqa: E731
    found: list[str] = []
    found += [
        f"s3:{b['Name']}"
        for b in client("s3").list_buckets()["Buckets"]
        if b["Name"].startswith(prefix)
    ]
    found += [
        f"iam:role:{r['RoleName']}"
        for r in client("iam").list_roles()["Roles"]
        if r["RoleName"].startswith(prefix)
    ]
    found += [
        f"iam:policy:{p['PolicyName']}"
        for p in client("iam").list_policies(Scope="Local")["Policies"]
        if p["PolicyName"].startswith(prefix)
    ]
    found += [
        f"iam:oidc:{p['Arn']}"
        for p in client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    ]
    kms = client("kms")
    for key in kms.list_keys()["Keys"]:
        state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
        if state != "PendingDeletion":  # KMS keys are never deleted at once
            found.append(f"kms:{key['KeyId']}:{state}")
    found += [
        f"kms:alias:{a['AliasName']}"
        for a in kms.list_aliases()["Aliases"]
        if prefix in a["AliasName"]
    ]
    found += [
        f"ecr:{r['repositoryName']}" for r in client("ecr").describe_repositories()["repositories"]
    ]
    sm = client("sagemaker")
    found += [
        f"sagemaker:group:{g['ModelPackageGroupName']}"
        for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    ]
    found += [f"sagemaker:model:{m['ModelName']}" for m in sm.list_models()["Models"]]
    found += [
        f"sagemaker:config:{c['EndpointConfigName']}"
        for c in sm.list_endpoint_configs()["EndpointConfigs"]
    ]
    found += [f"sagemaker:endpoint:{e['EndpointName']}" for e in sm.list_endpoints()["Endpoints"]]
    found += [
        f"logs:{g['logGroupName']}" for g in client("logs").describe_log_groups()["logGroups"]
    ]
    found += [
        f"alarm:{a['AlarmName']}" for a in client("cloudwatch").describe_alarms()["MetricAlarms"]
    ]
    found += [
        f"dashboard:{d['DashboardName']}"
        for d in client("cloudwatch").list_dashboards()["DashboardEntries"]
    ]
    found += [f"events:{r['Name']}" for r in client("events").list_rules()["Rules"]]
    found += [f"sns:{t['TopicArn']}" for t in client("sns").list_topics()["Topics"]]
    found += [f"sqs:{q}" for q in client("sqs").list_queues().get("QueueUrls", [])]
    found += [
        f"autoscaling:{t['ResourceId']}"
        for t in client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker"
        )["ScalableTargets"]
    ]
    return found
