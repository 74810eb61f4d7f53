"""The Kubernetes provider every component of a stack uses: one cluster per stack."""

from __future__ import annotations

import os

import pulumi_kubernetes as k8s


def kubernetes_provider(name: str, kubeconfig: str) -> k8s.Provider:
    """A provider for the cluster `kubeconfig` (a path) names; empty uses the ambient
    KUBECONFIG or in-cluster configuration, as kubectl would.

    Server-side apply: the API server merges fields, so controllers (the autoscaler
    owning `replicas`, the IRSA webhook adding volumes) and Pulumi do not fight over them.
    """
    return k8s.Provider(
        name,
        # The provider does not expand `~`; the stack file may well use it.
        kubeconfig=os.path.expanduser(kubeconfig) if kubeconfig else None,
        enable_server_side_apply=True,
    )
