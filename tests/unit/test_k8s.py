"""Kubernetes components: every manifest valid against the Kubernetes schema (strict: an
unknown field fails), the namespace's guard rails, and a model server that serves the
stack's model with the stack's outputs, under the restricted profile."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import kubernetes_validate
import pytest

from infra.k8s.model_server import autoscaler_spec, deployment_spec, service_spec
from infra.k8s.workspace import NODE_LOCAL_DNS, namespace_metadata, network_policy_specs
from infra.outputs import StackOutputs
from infra.plan import UNKNOWN, CapturedResource, Plan, plan_stack

KUBERNETES_VERSION = "1.31"
ACCOUNT = "111122223333"  # stacks/Pulumi.dev.yaml
CLUSTER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C"
ENABLED = {
    "mlops-platform:kubernetesEnabled": True,
    "mlops-platform:kubernetesClusterName": "ml-platform",
    "mlops-platform:kubernetesOidcProviderArn": CLUSTER,
    "mlops-platform:kubernetesIngressNamespaces": ["ingress-nginx"],
    "mlops-platform:kubernetesServingMinReplicas": 3,
    "mlops-platform:kubernetesServingMaxReplicas": 9,
    "mlops-platform:kubernetesServingScratch": "6Gi",
}
MODEL = {
    "mlops-platform:endpointModelImage": "serving-1.4.2",
    "mlops-platform:endpointModelDataKey": "churn/v7/model.tar.gz",
    "mlops-platform:endpointDataCapturePercent": 40,
}
BOTH_MODES = pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])


@cache
def _plan(*, model: bool = True, enabled: bool = True, preview: bool = False) -> Plan:
    overrides = {**(ENABLED if enabled else {}), **(MODEL if model else {})}
    return plan_stack("dev", preview=preview, overrides=overrides)


def _kubernetes(plan: Plan) -> list[CapturedResource]:
    return [r for r in plan.resources if r.type.startswith("kubernetes:") and r.custom]


def _valid(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


# ---------------------------------------------------------------------------- schema


def test_every_manifest_of_the_plan_is_valid_kubernetes() -> None:
    resources = [r for r in _kubernetes(_plan()) if "/" in r.type]
    kinds = {r.inputs["kind"] for r in resources}
    assert kinds == {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for resource in resources:
        _valid(dict(resource.inputs))


def test_the_schema_check_rejects_what_the_api_server_would() -> None:
    spec = deployment_spec(
        image="x:1",
        model_data_url="s3://b/k",
        region="eu-west-1",
        service_account="sa",
        config_map="cm",
        capture_percent=100,
        cpu="1",
        memory="1Gi",
        labels={},
    )
    good = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"}}
    _valid({**good, "spec": spec})
    spec["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        _valid({**good, "spec": spec})


# ---------------------------------------------------------------------------- workspace


def test_namespace_enforces_the_restricted_profile() -> None:
    labels = namespace_metadata("ml", {"team": "x"})["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["team"] == "x"


@BOTH_MODES
def test_network_starts_from_deny_all(preview: bool) -> None:
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in _kubernetes(_plan(preview=preview))
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    }
    deny = policies["default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # Nothing else opens ingress to every pod; egress is DNS and HTTPS only, so the
    # instance metadata service (port 80: the node's credentials) stays out of reach.
    for name, spec in policies.items():
        if "Ingress" in spec["policyTypes"] and name != "default-deny":
            assert spec["podSelector"] == {
                "matchLabels": {"app.kubernetes.io/name": "model-server"}
            }
        for rule in spec.get("egress", []):
            assert {port["port"] for port in rule["ports"]} <= {53, 443}, name
    assert {"ipBlock": {"cidr": NODE_LOCAL_DNS}} in policies["allow-dns"]["egress"][0]["to"]


def test_model_server_ingress_only_from_its_namespace_and_the_configured_ones() -> None:
    specs = network_policy_specs(["ingress-nginx"], ["10.40.0.0/16"])
    (rule,) = specs["allow-model-server-ingress"]["ingress"]
    assert rule["from"] == [
        {"podSelector": {}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
        {"ipBlock": {"cidr": "10.40.0.0/16"}},
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_service_accounts_assume_their_irsa_roles_without_api_tokens() -> None:
    plan = _plan()
    accounts = {
        r.inputs["metadata"]["name"]: r
        for r in _kubernetes(plan)
        if r.type == "kubernetes:core/v1:ServiceAccount"
    }
    assert set(accounts) == {"model-server", "training"}
    for name, role in (("model-server", "serving"), ("training", "training")):
        account = accounts[name]
        role_arn = plan.get(f"roles-k8s-{role}").outputs["arn"]
        assert account.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role_arn
        assert account.inputs["automountServiceAccountToken"] is False


@BOTH_MODES
def test_everything_uses_the_stack_cluster_and_waits_for_the_namespace(preview: bool) -> None:
    plan = _plan(preview=preview)
    (provider,) = [r for r in plan.resources if r.type == "pulumi:providers:kubernetes"]
    namespace = next(r for r in _kubernetes(plan) if r.inputs["kind"] == "Namespace")
    for resource in _kubernetes(plan):
        assert resource.provider.startswith(provider.urn), resource.name
        if resource is not namespace and resource.inputs["kind"] != "ServiceAccount":
            assert namespace.urn in resource.dependencies, resource.name
        if not preview and resource is not namespace:
            assert resource.inputs["metadata"]["namespace"] == "ml"


# ---------------------------------------------------------------------------- model server


def _deployment(plan: Plan) -> dict[str, Any]:
    return dict(plan.get("model-server-deployment").inputs["spec"])


def test_model_server_runs_the_stack_model_under_the_restricted_profile() -> None:
    plan = _plan()
    spec = _deployment(plan)
    assert "replicas" not in spec  # the autoscaler owns it
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "model-server"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    repository = plan.get("registry-repository").outputs["repositoryUrl"]
    assert container["image"] == f"{repository}:serving-1.4.2"
    models = plan.get("storage-models").outputs["bucket"]
    args = container["args"]
    assert args[args.index("--model-data") + 1] == f"s3://{models}/churn/v7/model.tar.gz"
    assert args[args.index("--capture-percent") + 1] == "40"
    assert container["resources"]["limits"] == {"memory": "1Gi"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/ping", "port": "http"}


def test_the_server_reads_the_stack_outputs_the_stack_exports() -> None:
    plan = _plan()
    data = plan.get("model-server-stack-outputs").inputs["data"]["outputs.json"]
    outputs = StackOutputs.from_exports(json.loads(data))
    assert outputs.models_bucket == plan.get("storage-models").outputs["bucket"]
    assert outputs.capture_bucket == plan.get("storage-capture").outputs["bucket"]
    pod = _deployment(plan)["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == "model-server-stack"
    (container,) = pod["containers"]
    args = container["args"]
    assert args[args.index("--outputs-file") + 1] == "/etc/mlops/outputs.json"


def test_pods_roll_when_the_stack_outputs_change_and_get_the_configured_scratch() -> None:
    import hashlib

    plan = _plan()
    data = plan.get("model-server-stack-outputs").inputs["data"]["outputs.json"]
    template = _deployment(plan)["template"]
    digest = template["metadata"]["annotations"]["mlops.io/stack-outputs-sha256"]
    assert digest == hashlib.sha256(data.encode()).hexdigest()
    (scratch,) = [v for v in template["spec"]["volumes"] if v["name"] == "scratch"]
    assert scratch["emptyDir"] == {"sizeLimit": "6Gi"}


def test_autoscaler_bounds_come_from_the_stack_file() -> None:
    spec = _plan().get("model-server-autoscaler").inputs["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 9)
    assert spec["scaleTargetRef"]["name"] == "model-server"


def test_service_is_cluster_internal() -> None:
    assert service_spec()["type"] == "ClusterIP"
    assert autoscaler_spec("d", 1, 2, 70)["metrics"][0]["resource"]["name"] == "cpu"


def test_preview_knows_the_manifests_but_not_the_ids() -> None:
    plan = _plan(preview=True)
    (container,) = _deployment(plan)["template"]["spec"]["containers"]
    assert container["image"] == UNKNOWN
    assert container["securityContext"]["runAsNonRoot"] is True


def test_without_a_model_image_only_the_workspace_is_made() -> None:
    kinds = {r.inputs["kind"] for r in _kubernetes(_plan(model=False)) if "/" in r.type}
    assert "Deployment" not in kinds
    assert {"Namespace", "NetworkPolicy", "ServiceAccount"} <= kinds


def test_disabled_kubernetes_makes_nothing_in_any_cluster() -> None:
    plan = _plan(enabled=False, model=False)
    assert [r for r in plan.resources if "kubernetes" in r.type] == []


@BOTH_MODES
def test_the_kubernetes_components_pass_the_whole_pack_at_prod_levels(preview: bool) -> None:
    from infra.config import load_stack_config
    from policies.offline import analyze

    plan = _plan(preview=preview)
    report = analyze(
        [r.to_policy_input() for r in plan.resources],
        load_stack_config("prod").policy_pack_config(),
    )
    # (The dev stack's own AWS choices, e.g. 30-day logs, are not prod's: only what this
    # feature adds is judged here.)
    ours = {r.urn for r in _kubernetes(plan)} | {
        plan.get(name).urn
        for name in ("roles-k8s-serving", "roles-k8s-training", "permissions-k8s-serving")
    }
    assert [v for v in report.violations if v.urn in ours or v.policy.startswith("k8s-")] == []
    assert [s for s in report.skipped if s.policy.startswith("k8s-")] == []
