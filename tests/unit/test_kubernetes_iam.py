"""The AWS side of the Kubernetes workloads: IRSA roles for the serving and training pods,
trusted by one service account each, bounded, and granted only their data plane."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from infra.iam import service_account_trust_policy
from infra.plan import Plan, plan_stack

ACCOUNT = "111122223333"  # stacks/Pulumi.dev.yaml
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/5C9F0E2B7A"
CLUSTER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
ENABLED = {
    "mlops-platform:kubernetesEnabled": True,
    "mlops-platform:kubernetesClusterName": "ml-platform",
    "mlops-platform:kubernetesOidcProviderArn": CLUSTER,
    "mlops-platform:kubernetesNamespace": "churn",
}


@cache
def _plan(enabled: bool, preview: bool = False) -> Plan:
    return plan_stack("dev", preview=preview, overrides=ENABLED if enabled else None)


def _document(plan: Plan, name: str, key: str) -> dict[str, Any]:
    return dict(json.loads(plan.get(name).inputs[key]))


def test_trust_is_one_service_account_with_an_sts_token() -> None:
    (statement,) = service_account_trust_policy(CLUSTER, "churn", "model-server", "Pods")[
        "Statement"
    ]
    assert statement["Principal"] == {"Federated": CLUSTER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:aud": "sts.amazonaws.com",
            f"{ISSUER}:sub": "system:serviceaccount:churn:model-server",
        }
    }


@pytest.mark.parametrize(
    ("role", "account"), [("serving", "model-server"), ("training", "training")]
)
def test_each_pod_role_trusts_its_service_account(role: str, account: str) -> None:
    plan = _plan(True)
    trust = _document(plan, f"roles-k8s-{role}", "assumeRolePolicy")
    assert trust == service_account_trust_policy(
        CLUSTER, "churn", account, trust["Statement"][0]["Sid"]
    )
    boundary = plan.get("roles-boundary")
    assert plan.get(f"roles-k8s-{role}").inputs["permissionsBoundary"] == boundary.outputs["arn"]


def test_serving_pods_read_models_and_write_capture_only() -> None:
    plan = _plan(True)
    text = plan.get("permissions-k8s-serving").inputs["policy"]
    models = plan.get("storage-models").outputs["arn"]
    capture = plan.get("storage-capture").outputs["arn"]
    datasets = plan.get("storage-datasets").outputs["arn"]
    assert models in text and capture in text
    assert datasets not in text
    actions = {
        a
        for s in json.loads(text)["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if "Delete" in a}
    assert "s3:PutObject" in actions


def test_training_pods_read_datasets_and_write_models() -> None:
    plan = _plan(True)
    statements = _document(plan, "permissions-k8s-training", "policy")["Statement"]
    datasets = plan.get("storage-datasets").outputs["arn"]
    (read,) = [s for s in statements if s["Sid"] == "ReadDatasets"]
    assert read["Resource"] == f"{datasets}/*"
    assert "s3:PutObject" not in read["Action"]


def test_the_data_key_lets_the_pod_roles_use_it() -> None:
    plan = _plan(True)
    policy = plan.get("keys-data").inputs["policy"]
    for role in ("serving", "training"):
        assert plan.get(f"roles-k8s-{role}").outputs["arn"] in policy


def test_without_kubernetes_there_are_no_pod_roles() -> None:
    names = {r.name for r in _plan(False).resources}
    assert not {n for n in names if "k8s" in n}


def test_pod_roles_in_preview() -> None:
    plan = _plan(True, preview=True)
    assert {"roles-k8s-serving", "roles-k8s-training"} <= {r.name for r in plan.resources}
    trust = _document(plan, "roles-k8s-training", "assumeRolePolicy")
    assert trust["Statement"][0]["Condition"]["StringEquals"][f"{ISSUER}:sub"].endswith(
        ":churn:training"
    )


def test_ci_may_connect_to_the_stack_cluster_and_no_other() -> None:
    plan = _plan(True)
    cluster = f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/ml-platform"
    for name in ("permissions-deploy-ml", "permissions-preview", "roles-boundary"):
        described = [
            s
            for s in _document(plan, name, "policy")["Statement"]
            if "eks:DescribeCluster" in s.get("Action", [])
        ]
        assert [s["Resource"] for s in described] == [cluster], name
    assert "eks:" not in plan.get("permissions-retrain").inputs["policy"]
    assert "eks:" not in _plan(False).get("roles-boundary").inputs["policy"]
