"""`Workspace`: the namespace of a stack's Kubernetes workloads and its guard rails.

- Pod Security Admission enforces `restricted` (non-root, no privilege escalation, all
  capabilities dropped, RuntimeDefault seccomp): the namespace refuses any pod that is not.
- Network policies deny all traffic, then allow DNS (CoreDNS, or NodeLocal DNSCache at
  its link-local address), HTTPS out (AWS APIs) and the model server's port in from its
  own namespace and the configured ingress namespaces and CIDRs. Nothing opens port 80,
  so the instance metadata service (node credentials) stays out of reach of pods, which
  get theirs through IRSA; nodes should still require IMDSv2 with a hop limit of 1.
  Policies only act where the cluster's network plugin enforces them (on EKS: the VPC
  CNI's network policy support, or Calico/Cilium).
- A quota caps what the namespace may request; a limit range gives containers that name
  no resources defaults, which the quota requires.
- One service account per workload, each bound to its IAM role (IRSA), with no API token
  mounted: the workloads never call the Kubernetes API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from infra.k8s.manifest import Manifest, api, name_of, object_metadata
from infra.naming import K8S_SERVING_SERVICE_ACCOUNT, K8S_TRAINING_SERVICE_ACCOUNT

POD_SECURITY_LEVEL: Final = "restricted"
MODEL_SERVER_APP: Final = "model-server"
MODEL_SERVER_PORT: Final = 8080
# NodeLocal DNSCache's address, where clusters that run it send pods' DNS queries.
NODE_LOCAL_DNS: Final = "169.254.20.10/32"
IRSA_ROLE_ANNOTATION: Final = "eks.amazonaws.com/role-arn"

# ---------------------------------------------------------------------------- manifests


def namespace_metadata(name: str, labels: Mapping[str, str]) -> Manifest:
    security = {
        f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL
        for mode in ("enforce", "audit", "warn")
    }
    return {"name": name, "labels": {**labels, **security}}


def quota_spec(cpu: str, memory: str) -> Manifest:
    return {"hard": {"requests.cpu": cpu, "limits.memory": memory}}


def limit_range_spec() -> Manifest:
    """Defaults for containers that name no resources (the quota needs a memory limit on
    every container; a pod without one would be refused)."""
    return {
        "limits": [
            {
                "type": "Container",
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                "default": {"memory": "512Mi"},
            }
        ]
    }


def network_policy_specs(
    ingress_namespaces: Sequence[str], ingress_cidrs: Sequence[str] = ()
) -> dict[str, Manifest]:
    """Name -> NetworkPolicy spec. Policies add up: whatever one allows is allowed."""
    everyone: Manifest = {}
    ingress_from: list[Manifest] = [{"podSelector": {}}]
    ingress_from += [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
        for namespace in ingress_namespaces
    ]
    ingress_from += [{"ipBlock": {"cidr": cidr}} for cidr in ingress_cidrs]
    return {
        "default-deny": {"podSelector": everyone, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": everyone,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            }
                        },
                        {"ipBlock": {"cidr": NODE_LOCAL_DNS}},
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
        "allow-https-egress": {
            "podSelector": everyone,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
        "allow-model-server-ingress": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": MODEL_SERVER_APP}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": ingress_from, "ports": [{"protocol": "TCP", "port": MODEL_SERVER_PORT}]}
            ],
        },
    }


def irsa_annotations(role_arn: Any) -> dict[str, Any]:
    """A service account's IAM role (IRSA); `role_arn` may be an Output."""
    return {
        IRSA_ROLE_ANNOTATION: role_arn,
        # STS in the stack's region, not the global endpoint (latency, availability).
        "eks.amazonaws.com/sts-regional-endpoints": "true",
    }


# ---------------------------------------------------------------------------- component


@dataclass(frozen=True)
class WorkspaceArgs:
    namespace: str
    """Namespace name (cfg.kubernetes.namespace)."""
    labels: Mapping[str, str]
    """Labels every object carries (stack, environment, managed-by)."""
    serving_role_arn: pulumi.Input[str]
    """Roles.kubernetes_serving_role_arn: what the model server's pods run as."""
    training_role_arn: pulumi.Input[str]
    """Roles.kubernetes_training_role_arn: what training pods run as."""
    quota_cpu: str = "16"
    quota_memory: str = "64Gi"
    ingress_namespaces: Sequence[str] = field(default_factory=tuple)
    """Namespaces allowed to reach the model server (cfg.kubernetes.ingress_namespaces)."""
    ingress_cidrs: Sequence[str] = field(default_factory=tuple)
    """CIDRs allowed to reach the model server (cfg.kubernetes.ingress_cidrs)."""


class Workspace(pulumi.ComponentResource):
    """Namespace, quota, limits, network policies and service accounts of the stack."""

    namespace: pulumi.Output[str]
    serving_service_account: pulumi.Output[str]
    training_service_account: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: WorkspaceArgs,
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:k8s:Workspace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = dict(args.labels)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=api(namespace_metadata(args.namespace, labels)),
            opts=child,
        )
        # From the namespace's output: everything in it waits until it exists.
        ns = name_of(namespace)

        def meta(object_name: str) -> Manifest:
            return object_metadata(object_name, ns, labels)

        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=api(meta("workloads")),
            spec=api(quota_spec(args.quota_cpu, args.quota_memory)),
            opts=child,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=api(meta("defaults")),
            spec=api(limit_range_spec()),
            opts=child,
        )
        for policy, spec in network_policy_specs(
            args.ingress_namespaces, args.ingress_cidrs
        ).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}", metadata=api(meta(policy)), spec=api(spec), opts=child
            )
        accounts = {}
        for account, role_arn in (
            (K8S_SERVING_SERVICE_ACCOUNT, args.serving_role_arn),
            (K8S_TRAINING_SERVICE_ACCOUNT, args.training_role_arn),
        ):
            accounts[account] = k8s.core.v1.ServiceAccount(
                f"{name}-{account}",
                metadata=api({**meta(account), "annotations": irsa_annotations(role_arn)}),
                automount_service_account_token=False,
                opts=child,
            )

        self.namespace = ns
        self.serving_service_account = name_of(accounts[K8S_SERVING_SERVICE_ACCOUNT])
        self.training_service_account = name_of(accounts[K8S_TRAINING_SERVICE_ACCOUNT])
        self.register_outputs(
            {
                "namespace": self.namespace,
                "serving_service_account": self.serving_service_account,
                "training_service_account": self.training_service_account,
            }
        )
