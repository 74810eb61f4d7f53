"""Kubernetes policies (pulumi-kubernetes 4 manifests in wire form: camelCase, floats)."""

from __future__ import annotations

import copy
from typing import Any

import pulumi_kubernetes as k8s
import pytest

from infra.plan import run_program
from policies import k8s as kubernetes
from policies.offline import UNKNOWN, PolicyConfigError, analyze, resource
from policies.registry import ALL_POLICIES

NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DIGEST = "sha256:" + "ab" * 32
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving:1.4.2"

# type -> (apiVersion, kind, where the pod spec sits as messages spell it)
WORKLOADS = {
    POD: ("v1", "Pod", "spec"),
    DEPLOYMENT: ("apps/v1", "Deployment", "spec.template.spec"),
    STATEFUL_SET: ("apps/v1", "StatefulSet", "spec.template.spec"),
    DAEMON_SET: ("apps/v1", "DaemonSet", "spec.template.spec"),
    REPLICA_SET: ("apps/v1", "ReplicaSet", "spec.template.spec"),
    JOB: ("batch/v1", "Job", "spec.template.spec"),
    CRON_JOB: ("batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec"),
    "kubernetes:core/v1:ReplicationController": (
        "v1",
        "ReplicationController",
        "spec.template.spec",
    ),
    "kubernetes:extensions/v1beta1:Deployment": (
        "extensions/v1beta1",
        "Deployment",
        "spec.template.spec",
    ),
}
KIND_IDS = [
    type_.rsplit(":", 1)[-1] + ("-legacy" if "v1beta" in type_ else "") for type_ in WORKLOADS
]


# --- builders ---------------------------------------------------------------------------


def secure_container(name: str = "app", **overrides: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": IMAGE,
        "ports": [{"name": "http", "containerPort": 8080.0, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"memory": "1Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    container.update(overrides)
    return container


def secure_pod_spec(*containers: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": "model-server",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": list(containers) or [secure_container()],
    }
    spec.update(overrides)
    return spec


def bare_container(name: str = "app", image: str = IMAGE) -> dict[str, Any]:
    """What a container looks like when nobody thought about security or resources."""
    return {"name": name, "image": image}


def workload(
    type_: str, name: str, pod: Any, *, namespace: Any = "ml", **options: Any
) -> dict[str, Any]:
    api_version, kind, _ = WORKLOADS.get(type_, ("apps/v1", type_.rsplit(":", 1)[-1], ""))
    if type_ == POD:
        spec = pod
    elif type_ == CRON_JOB:
        spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    else:
        spec = {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
        }
    inputs = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return resource(type_, name, inputs, **options)


def deployment(pod: Any, name: str = "serve") -> dict[str, Any]:
    return workload(DEPLOYMENT, name, pod)


def namespace(name: str = "ml", labels: Any = None, logical: str | None = None) -> dict[str, Any]:
    if labels is None:
        labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    metadata = {"name": name, "labels": labels}
    return resource(
        NAMESPACE, logical or name, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
    )


def network_policy(
    name: str, spec: Any, *, namespace_value: Any = "ml", **options: Any
) -> dict[str, Any]:
    return resource(
        NETWORK_POLICY,
        name,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace_value},
            "spec": spec,
        },
        **options,
    )


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def service(name: str, spec: Any, annotations: Any = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "ml"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return resource(
        SERVICE, name, {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
    )


def violations(policy: str, resources: list[dict[str, Any]], config: Any = None) -> list[Any]:
    report = analyze(resources, config)
    assert not [s for s in report.skipped if s.policy == policy], report.skipped
    return [v for v in report.violations if v.policy == policy]


# --- k8s-pod-security-context -----------------------------------------------------------


def test_security_context_fails_naming_the_container_and_every_missing_setting(
    assert_violation,
):
    pod = {"containers": [bare_container("app")]}
    found = assert_violation(
        "k8s-pod-security-context",
        [deployment(pod)],
        "Kubernetes Deployment 'serve' container 'app' (spec.template.spec.containers[0])",
    )
    assert len(found) == 1
    message = found[0].message
    for setting in (
        "runAsNonRoot: true (or a non-zero runAsUser)",
        "allowPrivilegeEscalation: false",
        "capabilities.drop: [ALL]",
        "seccompProfile.type: RuntimeDefault (or Localhost)",
        "Set these in the container's securityContext",
    ):
        assert setting in message
    assert "privileged" not in message
    assert found[0].level == "mandatory"


def test_security_context_reports_one_finding_per_container_including_init_containers(
    assert_violation,
):
    pod = secure_pod_spec(
        secure_container("app"),
        bare_container("sidecar"),
        initContainers=[bare_container("fetch-model")],
    )
    found = assert_violation(
        "k8s-pod-security-context",
        [deployment(pod)],
        "init container 'fetch-model' (spec.template.spec.initContainers[0])",
    )
    messages = [v.message for v in violations("k8s-pod-security-context", [deployment(pod)])]
    assert len(messages) == 2
    assert any("container 'sidecar' (spec.template.spec.containers[1])" in m for m in messages)
    assert not any("container 'app'" in m for m in messages)
    # The pod-level runAsNonRoot and seccomp profile cover the init container too.
    assert "runAsNonRoot: true" not in found[0].message
    assert "seccompProfile.type" not in found[0].message
    assert "allowPrivilegeEscalation: false" in found[0].message


@pytest.mark.parametrize("type_", list(WORKLOADS), ids=KIND_IDS)
def test_security_context_reads_each_workload_kinds_pod_spec(
    assert_violation, assert_passes, type_
):
    where = WORKLOADS[type_][2]
    insecure = workload(type_, "job", {"containers": [bare_container("main")]})
    assert_violation(
        "k8s-pod-security-context", [insecure], f"container 'main' ({where}.containers[0])"
    )
    assert_passes("k8s-pod-security-context", [workload(type_, "job", secure_pod_spec())])


def test_security_context_pod_level_settings_suffice(assert_passes):
    container = secure_container()  # no runAsNonRoot, no seccompProfile of its own
    assert_passes("k8s-pod-security-context", [deployment(secure_pod_spec(container))])


def test_security_context_container_settings_alone_suffice(assert_passes):
    container = secure_container()
    container["securityContext"].update(
        {"runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}
    )
    assert_passes("k8s-pod-security-context", [deployment({"containers": [container]}, name="own")])


def test_security_context_non_zero_run_as_user_counts_as_non_root(assert_passes):
    pod = secure_pod_spec(securityContext={"runAsUser": 1000.0})
    pod["containers"][0]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    assert_passes("k8s-pod-security-context", [deployment(pod)])


@pytest.mark.parametrize(
    "container_context, expected",
    [
        ({"runAsNonRoot": False}, "runAsNonRoot: true (or a non-zero runAsUser)"),
        ({"runAsUser": 0.0}, "a non-zero runAsUser (it is 0, root)"),
        ({"seccompProfile": {"type": "Unconfined"}}, "(it is 'Unconfined')"),
        ({"privileged": True}, "privileged: false (it is true)"),
        ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation: false"),
        (
            {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}},
            "capabilities.add limited to NET_BIND_SERVICE (it adds SYS_ADMIN)",
        ),
        # Pod Security admission compares capability names exactly.
        ({"capabilities": {"drop": ["all"]}}, "capabilities.drop: [ALL]"),
    ],
)
def test_security_context_container_settings_override_the_pods(
    assert_violation, container_context, expected
):
    container = secure_container()
    container["securityContext"].update(container_context)
    found = assert_violation(
        "k8s-pod-security-context", [deployment(secure_pod_spec(container))], expected
    )
    assert len(found) == 1


def test_security_context_allows_adding_net_bind_service(assert_passes):
    container = secure_container()
    container["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert_passes("k8s-pod-security-context", [deployment(secure_pod_spec(container))])


def test_security_context_container_seccomp_overrides_an_unconfined_pod(assert_passes):
    container = secure_container()
    container["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
    pod = secure_pod_spec(container)
    pod["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    assert_passes("k8s-pod-security-context", [deployment(pod)])


def test_security_context_unknown_values_are_not_violations(assert_passes):
    unknown_context = secure_container("a", securityContext=UNKNOWN)
    unknown_fields = secure_container("b")
    unknown_fields["securityContext"] = {
        "allowPrivilegeEscalation": UNKNOWN,
        "privileged": UNKNOWN,
        "capabilities": {"drop": UNKNOWN, "add": [UNKNOWN]},
        "runAsNonRoot": UNKNOWN,
        "seccompProfile": {"type": UNKNOWN},
    }
    resources = [
        deployment(secure_pod_spec(unknown_context, unknown_fields, securityContext=UNKNOWN)),
        deployment({"containers": UNKNOWN}, name="containers-unknown"),
        deployment({"containers": [UNKNOWN]}, name="container-unknown"),
        deployment(UNKNOWN, name="pod-unknown"),
        resource(CRON_JOB, "spec-unknown", {"spec": UNKNOWN}),
    ]
    assert_passes("k8s-pod-security-context", resources)


def test_security_context_reports_known_gaps_next_to_unknown_ones(assert_violation):
    container = secure_container()
    container["securityContext"] = {"capabilities": UNKNOWN, "allowPrivilegeEscalation": True}
    found = assert_violation(
        "k8s-pod-security-context",
        [deployment(secure_pod_spec(container))],
        "needs allowPrivilegeEscalation: false.",
    )
    assert "capabilities" not in found[0].message


# --- k8s-no-host-access -----------------------------------------------------------------


def test_host_access_fails_on_every_kind_of_host_access(assert_violation):
    container = secure_container(
        ports=[{"containerPort": 8080.0, "hostPort": 8080.0}], name="agent"
    )
    pod = secure_pod_spec(
        container,
        hostNetwork=True,
        hostPID=True,
        hostIPC=True,
        volumes=[{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}],
    )
    found = assert_violation(
        "k8s-no-host-access",
        [workload(DAEMON_SET, "node-agent", pod)],
        "Kubernetes DaemonSet 'node-agent' uses the node's namespaces, files or ports",
    )
    message = found[0].message
    for part in (
        "spec.template.spec.hostNetwork: true",
        "spec.template.spec.hostPID: true",
        "spec.template.spec.hostIPC: true",
        "hostPath volume 'docker' (/var/run/docker.sock)",
        "hostPort 8080 on container 'agent' (spec.template.spec.containers[0])",
        "Remove them",
    ):
        assert part in message
    assert len(found) == 1


def test_host_access_checks_init_container_ports_and_cron_jobs(assert_violation):
    init = secure_container("init", ports=[{"containerPort": 53.0, "hostPort": 53.0}])
    pod = secure_pod_spec(initContainers=[init])
    assert_violation(
        "k8s-no-host-access",
        [workload(CRON_JOB, "nightly", pod)],
        "hostPort 53 on init container 'init' (spec.jobTemplate.spec.template.spec."
        "initContainers[0])",
    )
    assert_violation(
        "k8s-no-host-access",
        [workload(POD, "debug", secure_pod_spec(hostNetwork=True))],
        "spec.hostNetwork: true",
    )


def test_host_access_passes_without_host_access(assert_passes):
    container = secure_container(ports=[{"containerPort": 8080.0, "hostPort": 0.0}])
    pod = secure_pod_spec(
        container,
        hostNetwork=False,
        hostPID=False,
        volumes=[{"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
    )
    assert_passes("k8s-no-host-access", [deployment(pod)])


def test_host_access_unknown_values_are_not_violations(assert_passes, assert_violation):
    container = secure_container(ports=[{"containerPort": 8080.0, "hostPort": UNKNOWN}, UNKNOWN])
    pod = secure_pod_spec(
        container, hostNetwork=UNKNOWN, hostPID=UNKNOWN, volumes=[UNKNOWN, {"name": "x"}]
    )
    assert_passes("k8s-no-host-access", [deployment(pod), deployment(UNKNOWN, name="unknown")])
    # A hostPath volume is one whatever its (unknown) path.
    pod = secure_pod_spec(volumes=[{"name": "data", "hostPath": {"path": UNKNOWN}}])
    assert_violation("k8s-no-host-access", [deployment(pod)], "hostPath volume 'data'")


# --- k8s-container-resources ------------------------------------------------------------


def test_resources_fail_without_requests_and_limits(assert_violation):
    found = assert_violation(
        "k8s-container-resources",
        [deployment(secure_pod_spec(bare_container("app")))],
        "container 'app' (spec.template.spec.containers[0]) sets no requests.cpu, "
        "requests.memory, limits.memory",
    )
    assert "Set resources.requests.cpu" in found[0].message


def test_resources_fail_on_a_missing_memory_limit_and_on_init_containers(assert_violation):
    requests_only = secure_container("app", resources={"requests": {"cpu": "1", "memory": "1Gi"}})
    init = secure_container("init", resources={})
    pod = secure_pod_spec(requests_only, initContainers=[init])
    assert_violation(
        "k8s-container-resources", [deployment(pod)], "container 'app' (spec.template.spec."
    )
    found = violations("k8s-container-resources", [deployment(pod)])
    assert sorted(v.message.split(" sets no ")[1].split(",")[0] for v in found) == [
        "limits.memory",
        "requests.cpu",
    ]
    assert any("init container 'init'" in v.message for v in found)


def test_resources_pass_with_requests_and_memory_limit_or_limits_only(assert_passes):
    limits_only = secure_container("limits", resources={"limits": {"cpu": "1", "memory": "2Gi"}})
    pod = secure_pod_spec(secure_container(), limits_only, initContainers=[secure_container("i")])
    assert_passes("k8s-container-resources", [workload(JOB, "train", pod)])


def test_resources_unknown_values_are_not_violations(assert_passes):
    pod = secure_pod_spec(
        secure_container("a", resources=UNKNOWN),
        secure_container("b", resources={"requests": UNKNOWN, "limits": {"memory": UNKNOWN}}),
        secure_container(
            "c", resources={"requests": {"cpu": UNKNOWN, "memory": "1Gi"}, "limits": UNKNOWN}
        ),
    )
    assert_passes("k8s-container-resources", [deployment(pod)])


# --- k8s-read-only-root-filesystem ------------------------------------------------------


def test_read_only_root_fails_when_absent_or_false(assert_violation):
    writable = secure_container("app")
    writable["securityContext"]["readOnlyRootFilesystem"] = False
    absent = secure_container("init", securityContext={"allowPrivilegeEscalation": False})
    pod = secure_pod_spec(writable, initContainers=[absent])
    found = assert_violation(
        "k8s-read-only-root-filesystem",
        [workload(STATEFUL_SET, "store", pod)],
        "container 'app' (spec.template.spec.containers[0]) has a writable root filesystem",
    )
    assert found[0].level == "advisory"
    assert "readOnlyRootFilesystem: true" in found[0].message
    assert_violation(
        "k8s-read-only-root-filesystem",
        [workload(STATEFUL_SET, "store", pod)],
        "init container 'init' (spec.template.spec.initContainers[0])",
    )


def test_read_only_root_is_a_container_setting(assert_violation):
    # readOnlyRootFilesystem is not a pod-level field: setting it there does nothing.
    pod = secure_pod_spec(bare_container())
    pod["securityContext"]["readOnlyRootFilesystem"] = True
    assert_violation("k8s-read-only-root-filesystem", [deployment(pod)], "container 'app'")


def test_read_only_root_passes_when_true_or_unknown(assert_passes):
    unknown = secure_container("u")
    unknown["securityContext"]["readOnlyRootFilesystem"] = UNKNOWN
    pod = secure_pod_spec(
        secure_container(), unknown, secure_container("v", securityContext=UNKNOWN)
    )
    assert_passes("k8s-read-only-root-filesystem", [deployment(pod)])


# --- k8s-image-pinned -------------------------------------------------------------------


@pytest.mark.parametrize(
    "image, problem",
    [
        ("python", "has no tag, so it pulls 'latest'"),
        ("library/python:latest", "uses the floating tag 'latest'"),
        ("registry.example.com:5000/ml/serving", "has no tag"),
        ("localhost:5000/serving", "has no tag"),
        ("ghcr.io/org/serving:LATEST", "uses the floating tag 'LATEST'"),
        ("serving:", "has an empty tag"),
    ],
)
def test_image_pinned_fails_on_latest_and_untagged_images(assert_violation, image, problem):
    pod = secure_pod_spec(secure_container(image=image))
    found = assert_violation("k8s-image-pinned", [deployment(pod)], f"image '{image}' {problem}")
    assert "container 'app' (spec.template.spec.containers[0])" in found[0].message
    assert "@sha256:<digest>" in found[0].message


@pytest.mark.parametrize(
    "image",
    [
        IMAGE,
        "python:3.12-slim",
        "registry.example.com:5000/ml/serving:2024.06.1",
        f"registry.example.com:5000/ml/serving@{DIGEST}",
        f"serving:latest@{DIGEST}",
        f"serving@{DIGEST}",
    ],
)
def test_image_pinned_passes_tags_and_digests(assert_passes, image):
    assert_passes("k8s-image-pinned", [deployment(secure_pod_spec(secure_container(image=image)))])


def test_image_pinned_checks_init_containers_and_skips_unknown_images(
    assert_violation, assert_passes
):
    pod = secure_pod_spec(initContainers=[secure_container("fetch", image="busybox")])
    assert_violation(
        "k8s-image-pinned",
        [workload(JOB, "train", pod)],
        "init container 'fetch' (spec.template.spec.initContainers[0]) image 'busybox'",
    )
    unknown = secure_pod_spec(secure_container(image=UNKNOWN), secure_container("x", image=None))
    assert_passes("k8s-image-pinned", [deployment(unknown)])


def test_image_tag_ignores_registry_ports():
    assert kubernetes.image_tag("host:5000/repo") is None
    assert kubernetes.image_tag("host:5000/repo:1.0") == "1.0"
    assert kubernetes.image_tag(f"host:5000/repo:1.0@{DIGEST}") == "1.0"
    assert kubernetes.unpinned(f"repo@{DIGEST}") is None
    assert kubernetes.unpinned("repo@sha256:short") is not None


# --- k8s-namespace-pod-security ---------------------------------------------------------


def test_namespace_pod_security_fails_without_the_enforce_label(assert_violation):
    warn_only = namespace(labels={"pod-security.kubernetes.io/warn": "restricted"})
    found = assert_violation(
        "k8s-namespace-pod-security",
        [warn_only],
        "Kubernetes Namespace 'ml' has no 'pod-security.kubernetes.io/enforce' label",
    )
    assert "Add the label 'pod-security.kubernetes.io/enforce: restricted'" in found[0].message
    bare = resource(NAMESPACE, "bare", {"apiVersion": "v1", "kind": "Namespace"})
    assert_violation("k8s-namespace-pod-security", [bare], "Namespace 'bare' has no")


@pytest.mark.parametrize("level", ["baseline", "privileged"])
def test_namespace_pod_security_fails_on_weaker_levels(assert_violation, level):
    assert_violation(
        "k8s-namespace-pod-security",
        [namespace(labels={"pod-security.kubernetes.io/enforce": level})],
        f"enforces the Pod Security level '{level}', which is not in allowedLevels (restricted)",
    )


def test_namespace_pod_security_allowed_levels_config(assert_passes, assert_violation):
    config = {"k8s-namespace-pod-security": {"allowedLevels": ["restricted", "baseline"]}}
    baseline = namespace(labels={"pod-security.kubernetes.io/enforce": "baseline"})
    assert_passes("k8s-namespace-pod-security", [baseline, namespace("other")], config)
    privileged = namespace(labels={"pod-security.kubernetes.io/enforce": "privileged"})
    assert_violation("k8s-namespace-pod-security", [privileged], "'privileged'", config)
    with pytest.raises(PolicyConfigError, match="allowedLevels"):
        analyze([], {"k8s-namespace-pod-security": {"allowedLevels": ["strict"]}})


def test_namespace_pod_security_unknown_labels_are_not_violations(assert_passes):
    assert_passes(
        "k8s-namespace-pod-security",
        [
            namespace("a", labels=UNKNOWN),
            namespace("b", labels={"pod-security.kubernetes.io/enforce": UNKNOWN}),
            resource(NAMESPACE, "c", {"metadata": UNKNOWN}),
        ],
    )


# --- k8s-namespace-default-deny ---------------------------------------------------------


def test_default_deny_fails_for_a_namespace_without_network_policies(assert_violation):
    ns = namespace()
    found = assert_violation(
        "k8s-namespace-default-deny",
        [ns, network_policy("deny", DENY_ALL, namespace_value="other")],
        "Kubernetes Namespace 'ml' has no default-deny NetworkPolicy",
    )
    assert [v.urn for v in found] == [ns["urn"]]
    assert found[0].level == "advisory"
    assert "podSelector: {}, policyTypes: [Ingress, Egress]" in found[0].message


@pytest.mark.parametrize(
    "spec",
    [
        {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"]},
        {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}},
        {"podSelector": {}, "policyTypes": ["Ingress"]},
        {"podSelector": {}},  # defaults to Ingress only
    ],
)
def test_default_deny_fails_when_the_namespaces_policies_are_partial(assert_violation, spec):
    found = assert_violation(
        "k8s-namespace-default-deny",
        [namespace(), network_policy("partial", spec)],
        "(its NetworkPolicies 'partial' do not select every pod for both Ingress and Egress)",
    )
    assert len(found) == 1


def test_default_deny_passes_by_value(assert_passes):
    allow = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    assert_passes(
        "k8s-namespace-default-deny",
        [namespace(), network_policy("allow-web", allow), network_policy("deny", DENY_ALL)],
    )


def test_default_deny_passes_by_property_dependency(assert_passes):
    ns = namespace()
    ns["inputs"]["metadata"] = {"name": UNKNOWN, "labels": {}}
    for value in (UNKNOWN, None):  # None: what a mocks run resolves an unset output to
        policy = network_policy(
            "deny",
            {**DENY_ALL, "policyTypes": ["Egress", "Ingress"]},
            namespace_value=value,
            property_dependencies={"metadata": [ns["urn"]]},
        )
        assert_passes("k8s-namespace-default-deny", [ns, policy])


def test_default_deny_accepts_the_defaulted_policy_types_with_egress_rules(assert_passes):
    spec = {"podSelector": {"matchLabels": {}}, "egress": [{"ports": [{"port": 53.0}]}]}
    assert_passes("k8s-namespace-default-deny", [namespace(), network_policy("deny", spec)])


def test_default_deny_dependency_on_another_namespace_does_not_count(assert_violation):
    ml, other = namespace("ml"), namespace("other")
    policy = network_policy(
        "deny",
        DENY_ALL,
        namespace_value=UNKNOWN,
        property_dependencies={"metadata": [other["urn"]]},
    )
    found = assert_violation("k8s-namespace-default-deny", [ml, other, policy], "'ml' has no")
    assert [v.urn for v in found] == [ml["urn"]]


def test_default_deny_known_namespace_wins_over_a_metadata_dependency(assert_violation):
    # metadata depends on 'ml' (e.g. for a label) but the policy is created in 'other'.
    ml = namespace("ml")
    policy = network_policy(
        "deny", DENY_ALL, namespace_value="other", property_dependencies={"metadata": [ml["urn"]]}
    )
    assert_violation("k8s-namespace-default-deny", [ml, policy], "'ml' has no")


def test_default_deny_without_metadata_namespace_covers_only_default(
    assert_violation, assert_passes
):
    policy = network_policy("deny", DENY_ALL, namespace_value=None)
    assert_violation("k8s-namespace-default-deny", [namespace("ml"), policy], "'ml' has no")
    assert_passes("k8s-namespace-default-deny", [namespace("default"), policy])


def test_default_deny_unknown_values_are_not_violations(assert_passes):
    ml = namespace("ml")
    linked = {"property_dependencies": {"metadata": [ml["urn"]]}}
    cases = [
        [ml, network_policy("deny", UNKNOWN, **linked)],
        [
            ml,
            network_policy("deny", {"podSelector": UNKNOWN, "policyTypes": ["Ingress", "Egress"]}),
        ],
        [ml, network_policy("deny", {"podSelector": {}, "policyTypes": UNKNOWN})],
        [ml, network_policy("deny", {"podSelector": {}, "policyTypes": ["Ingress", UNKNOWN]})],
        [ml, network_policy("deny", {"podSelector": {}, "egress": UNKNOWN})],
        # Unknown namespace, no dependency to follow: it may be this one.
        [ml, network_policy("deny", DENY_ALL, namespace_value=UNKNOWN)],
        # Unknown namespace name, policy named by value: it may be this one.
        [namespace(UNKNOWN, logical="ml"), network_policy("deny", DENY_ALL)],
    ]
    for resources in cases:
        assert_passes("k8s-namespace-default-deny", resources)


# --- k8s-service-not-public -------------------------------------------------------------

LOAD_BALANCER = {"type": "LoadBalancer", "ports": [{"port": 443.0, "targetPort": 8443.0}]}
SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"


def test_service_fails_on_a_public_load_balancer(assert_violation):
    found = assert_violation(
        "k8s-service-not-public",
        [service("web", LOAD_BALANCER)],
        "Kubernetes Service 'web' is of type LoadBalancer and is not annotated internal",
    )
    assert f"Set the annotation '{SCHEME}: internal'" in found[0].message
    assert found[0].level == "mandatory"
    assert_violation(
        "k8s-service-not-public",
        [service("web", LOAD_BALANCER, {SCHEME: "internet-facing", INTERNAL: "true"})],
        f"is annotated '{SCHEME}: internet-facing'",
    )
    assert_violation(
        "k8s-service-not-public",
        [service("web", LOAD_BALANCER, {INTERNAL: "false"})],
        "is not annotated internal",
    )


def test_service_passes_internal_load_balancers_and_cluster_ips(assert_passes):
    assert_passes(
        "k8s-service-not-public",
        [
            service("a", LOAD_BALANCER, {SCHEME: "internal"}),
            service("b", LOAD_BALANCER, {INTERNAL: "true"}),
            service("c", {"type": "ClusterIP", "ports": [{"port": 80.0}]}),
            service("d", {"ports": [{"port": 80.0}]}),  # ClusterIP by default
        ],
    )


def test_service_node_port_is_reported_unless_allowed(assert_violation, assert_passes):
    node_port = service("np", {"type": "NodePort", "ports": [{"port": 80.0}]})
    assert_violation("k8s-service-not-public", [node_port], "Service 'np' is of type NodePort")
    assert_passes(
        "k8s-service-not-public",
        [node_port],
        {"k8s-service-not-public": {"allowNodePort": True}},
    )


def test_service_unknown_values_are_not_violations(assert_passes):
    assert_passes(
        "k8s-service-not-public",
        [
            service("a", {"type": UNKNOWN}),
            service("b", LOAD_BALANCER, UNKNOWN),
            service("c", LOAD_BALANCER, {SCHEME: UNKNOWN}),
            service("d", LOAD_BALANCER, {INTERNAL: UNKNOWN}),
            resource(SERVICE, "e", {"spec": UNKNOWN, "metadata": UNKNOWN}),
        ],
    )


# --- k8s-service-account-token ----------------------------------------------------------


@pytest.mark.parametrize("type_", list(WORKLOADS), ids=KIND_IDS)
def test_service_account_token_fails_when_not_set(assert_violation, type_):
    where = WORKLOADS[type_][2]
    pod = secure_pod_spec()
    del pod["automountServiceAccountToken"]
    found = assert_violation(
        "k8s-service-account-token",
        [workload(type_, "job", pod)],
        f"'job' mounts a Kubernetes API token into its pods: {where}."
        "automountServiceAccountToken is not set",
    )
    assert "opts out of this policy by setting it to true explicitly" in found[0].message
    assert found[0].level == "advisory"


@pytest.mark.parametrize("value", [False, True, UNKNOWN], ids=["false", "opt-out", "unknown"])
def test_service_account_token_passes_when_set_or_unknown(assert_passes, value):
    pod = secure_pod_spec(automountServiceAccountToken=value)
    assert_passes("k8s-service-account-token", [deployment(pod), deployment(UNKNOWN, name="u")])


# --- a realistic, secure set ------------------------------------------------------------

K8S_POLICIES = sorted(p.name for p in ALL_POLICIES if p.name.startswith("k8s-"))


def secure_stack(*, preview: bool = False) -> list[dict[str, Any]]:
    """Namespace, network policies, service accounts, model server and a training CronJob.

    ``preview``: the namespace's name and the image are unknown; objects are linked to the
    namespace only through property dependencies, as in a preview of a fresh stack.
    """
    labels = {"app.kubernetes.io/part-of": "mlops-platform", "environment": "prod"}
    ns = resource(
        NAMESPACE,
        "workspace-namespace",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": UNKNOWN if preview else "ml",
                "labels": {
                    **labels,
                    **{
                        f"pod-security.kubernetes.io/{mode}": "restricted"
                        for mode in ("enforce", "audit", "warn")
                    },
                },
            },
        },
    )
    in_ns = {"property_dependencies": {"metadata": [ns["urn"]]}}
    ns_name = UNKNOWN if preview else "ml"
    image = UNKNOWN if preview else f"{IMAGE}@{DIGEST}"

    def meta(name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "namespace": ns_name, "labels": labels, **extra}

    def obj(type_: str, logical: str, inputs: dict[str, Any]) -> dict[str, Any]:
        api_version = type_.split(":")[1].removeprefix("core/")
        kind = type_.rsplit(":", 1)[-1]
        return resource(
            type_, logical, {"apiVersion": api_version, "kind": kind, **inputs}, **in_ns
        )

    policies = {
        "default-deny": DENY_ALL,
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            }
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53.0}, {"protocol": "TCP", "port": 53.0}],
                }
            ],
        },
        "allow-model-server-ingress": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "model-server"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8080.0}]}],
        },
    }
    stack = [ns]
    stack += [
        obj(NETWORK_POLICY, f"workspace-{name}", {"metadata": meta(name), "spec": spec})
        for name, spec in policies.items()
    ]
    for account in ("model-server", "training"):
        annotations = {"eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{account}"}
        stack.append(
            obj(
                SERVICE_ACCOUNT,
                f"workspace-{account}",
                {
                    "metadata": meta(account, annotations=annotations),
                    "automountServiceAccountToken": False,
                },
            )
        )
    server = secure_container(
        "model-server",
        image=image,
        volumeMounts=[{"name": "scratch", "mountPath": "/tmp"}],
    )
    pod = secure_pod_spec(server, volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": "2Gi"}}])
    pod["securityContext"].update({"runAsUser": 10001.0, "runAsGroup": 10001.0, "fsGroup": 10001.0})
    stack.append(
        obj(
            DEPLOYMENT,
            "model-server-deployment",
            {
                "metadata": meta("model-server"),
                "spec": {
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "model-server"}},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "model-server"}},
                        "spec": pod,
                    },
                },
            },
        )
    )
    trainer = secure_container("train", image=image, ports=[])
    stack.append(
        obj(
            CRON_JOB,
            "retrain",
            {
                "metadata": meta("retrain"),
                "spec": {
                    "schedule": "0 3 * * 0",
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": secure_pod_spec(
                                    trainer,
                                    serviceAccountName="training",
                                    restartPolicy="Never",
                                    initContainers=[secure_container("fetch", image=image)],
                                )
                            }
                        }
                    },
                },
            },
        )
    )
    stack.append(
        obj(
            SERVICE,
            "model-server-service",
            {
                "metadata": meta("model-server"),
                "spec": {"type": "ClusterIP", "ports": [{"port": 80.0, "targetPort": "http"}]},
            },
        )
    )
    stack.append(
        obj(
            SERVICE,
            "model-server-internal-lb",
            {
                "metadata": meta("model-server-lb", annotations={SCHEME: "internal"}),
                "spec": LOAD_BALANCER,
            },
        )
    )
    return stack


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("policy", K8S_POLICIES)
def test_secure_kubernetes_set_passes_every_kubernetes_policy(assert_passes, policy, preview):
    assert_passes(policy, secure_stack(preview=preview))


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_secure_kubernetes_set_has_no_violation_of_any_policy(preview):
    # In particular required-tags and the AWS policies leave Kubernetes objects alone.
    report = analyze(secure_stack(preview=preview), {"all": "mandatory"})
    assert report.violations == ()
    assert report.skipped == ()


def test_each_secure_set_object_is_checked():
    # Dropping a guard rail from the secure set is reported: the set exercises every policy.
    stack = secure_stack()
    broken = copy.deepcopy(stack)
    by_name = {r["name"]: r for r in broken}
    broken.remove(by_name["workspace-default-deny"])
    by_name["workspace-namespace"]["inputs"]["metadata"]["labels"].pop(
        "pod-security.kubernetes.io/enforce"
    )
    pod = by_name["model-server-deployment"]["inputs"]["spec"]["template"]["spec"]
    del pod["automountServiceAccountToken"]
    del pod["securityContext"]
    server = pod["containers"][0]
    server["image"] = "serving:latest"
    server["resources"] = {}
    server["securityContext"] = {}
    pod["hostNetwork"] = True
    by_name["model-server-internal-lb"]["inputs"]["metadata"]["annotations"] = {}
    report = analyze(broken)
    assert sorted({v.policy for v in report.violations}) == K8S_POLICIES


def test_only_kubernetes_policies_inspect_kubernetes_types():
    for policy in ALL_POLICIES:
        types = getattr(policy, "resource_types", ())
        inspects_k8s = any(t.startswith("kubernetes:") for t in types)
        assert inspects_k8s == policy.name.startswith("k8s-"), policy.name


# --- a pulumi-kubernetes program under mocks --------------------------------------------


def _program(secure: bool) -> None:
    """Written with the SDK's snake_case names: the engine receives camelCase manifests."""
    labels = {"pod-security.kubernetes.io/enforce": "restricted"} if secure else {}
    ns = k8s.core.v1.Namespace("ml", metadata={"labels": labels})
    name = ns.metadata.apply(lambda m: m.name)
    if secure:
        k8s.networking.v1.NetworkPolicy(
            "deny",
            metadata={"namespace": name},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
        )
    container: dict[str, Any] = {"name": "app", "image": "serving" if not secure else IMAGE}
    pod: dict[str, Any] = {"containers": [container]}
    if secure:
        container["resources"] = {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"memory": "512Mi"},
        }
        container["security_context"] = {
            "allow_privilege_escalation": False,
            "read_only_root_filesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        pod["security_context"] = {
            "run_as_non_root": True,
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
        pod["automount_service_account_token"] = False
    else:
        pod["host_network"] = True
    k8s.batch.v1.CronJob(
        "retrain",
        metadata={"namespace": name},
        spec={"schedule": "0 3 * * *", "job_template": {"spec": {"template": {"spec": pod}}}},
    )
    k8s.core.v1.Service(
        "web",
        metadata={"namespace": name},
        spec={"type": "ClusterIP" if secure else "LoadBalancer", "ports": [{"port": 80}]},
    )


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_pulumi_kubernetes_program_wire_form(preview):
    def evaluate(secure: bool) -> set[str]:
        plan = run_program(
            lambda: _program(secure), project="mlops-platform", stack="dev", preview=preview
        )
        report = analyze([r.to_policy_input() for r in plan.resources])
        assert report.skipped == ()
        return {v.policy for v in report.violations}

    assert evaluate(secure=True) == set()
    assert evaluate(secure=False) == set(K8S_POLICIES)
