"""Kubernetes policies: pod security, host access, resources, images, namespaces, services.

(Named `k8s`, not `kubernetes`: the CLI runs the pack with this directory first on
sys.path, where a `kubernetes.py` would hide the Kubernetes client package.)

Under Pulumi (pulumi-kubernetes 4) a Kubernetes resource's inputs are its manifest in wire
form: ``{"apiVersion", "kind", "metadata", "spec"}`` with camelCase keys and numbers as
floats. The pod spec of a workload is at ``spec`` (Pod), ``spec.template.spec``
(Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job) or
``spec.jobTemplate.spec.template.spec`` (CronJob); the deprecated API versions the SDK
still offers (``apps/v1beta1``, ``extensions/v1beta1``, ``batch/v1beta1``...) are read
the same way. Any part may be unknown during preview (an image URI from an ECR output, a
namespace name from another resource): an unknown value is never a violation, an absent
one can be. Messages spell fields and paths as the Kubernetes API does (camelCase, e.g.
``securityContext.runAsNonRoot``); pulumi-kubernetes takes dicts spelled so as well.

The container checks follow the Pod Security Standards' ``restricted`` profile, which the
namespaces are meant to enforce (``k8s-namespace-pod-security``): a manifest that fails
them would be rejected at admission, so reporting it at preview saves a failed rollout.
Effective values are computed as the kubelet does: a container's ``securityContext``
overrides the pod's for ``runAsNonRoot``, ``runAsUser`` and ``seccompProfile``;
``allowPrivilegeEscalation``, ``privileged``, ``capabilities`` and
``readOnlyRootFilesystem`` exist only per container. A missing CPU or memory request is
taken from the corresponding limit, as the API server defaults it. Ephemeral containers
are not part of a manifest (they are added through the ``ephemeralcontainers``
subresource) and are not checked; neither are defaults a LimitRange or an admission
webhook may add in the cluster.

Out of scope:

* The ``*Patch`` variants (e.g. ``kubernetes:apps/v1:DeploymentPatch``): a patch holds
  only the fields it changes, so a missing setting means "unchanged", not "unset".
* ``kubernetes:yaml/v2:ConfigGroup``, ``kubernetes:helm.sh/v4:Chart`` and similar
  components: their inputs are files, YAML text or chart values, not manifests. The
  objects they render are registered by the provider as ordinary resources, and only in
  that form do they reach these policies.
* Namespaces a workload lands in through the provider's ``namespace`` setting:
  ``k8s-namespace-default-deny`` sees only ``metadata.namespace`` (a stack policy is not
  given the provider), so set it explicitly on NetworkPolicies.

Kubernetes objects carry labels, not AWS tags: ``required-tags`` takes its resource types
from ``_aws_taggable_types.py`` (``aws:`` tokens only), so it never inspects them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import (
    Finding,
    MlopsResourcePolicy,
    MlopsStackPolicy,
    Node,
    StackGraph,
    Subject,
    schema,
)
from ._values import UNKNOWN, Tri, combine_all, combine_any, get, items, number, strings, truth

# --- resource types ---------------------------------------------------------------------

NAMESPACE_TYPE: Final = "kubernetes:core/v1:Namespace"
SERVICE_TYPE: Final = "kubernetes:core/v1:Service"
POD_TYPE: Final = "kubernetes:core/v1:Pod"
NETWORK_POLICY_TYPES: Final = (
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:extensions/v1beta1:NetworkPolicy",
)
# Workloads whose pod template is at spec.template.spec.
TEMPLATE_TYPES: Final = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:core/v1:ReplicationController",
    "kubernetes:apps/v1beta1:Deployment",
    "kubernetes:apps/v1beta1:StatefulSet",
    "kubernetes:apps/v1beta2:DaemonSet",
    "kubernetes:apps/v1beta2:Deployment",
    "kubernetes:apps/v1beta2:ReplicaSet",
    "kubernetes:apps/v1beta2:StatefulSet",
    "kubernetes:extensions/v1beta1:DaemonSet",
    "kubernetes:extensions/v1beta1:Deployment",
    "kubernetes:extensions/v1beta1:ReplicaSet",
)
CRON_JOB_TYPES: Final = (
    "kubernetes:batch/v1:CronJob",
    "kubernetes:batch/v1beta1:CronJob",
    "kubernetes:batch/v2alpha1:CronJob",
)
WORKLOAD_TYPES: Final = (POD_TYPE, *TEMPLATE_TYPES, *CRON_JOB_TYPES)

# Where the pod spec sits: (wire path, how messages spell it).
_POD_SPEC_PATHS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    POD_TYPE: (("spec",), "spec"),
    **{t: (("spec", "template", "spec"), "spec.template.spec") for t in TEMPLATE_TYPES},
    **{
        t: (
            ("spec", "jobTemplate", "spec", "template", "spec"),
            "spec.jobTemplate.spec.template.spec",
        )
        for t in CRON_JOB_TYPES
    },
}

# --- constants --------------------------------------------------------------------------

CAPABILITY_ALL: Final = "ALL"  # Pod Security admission compares capability names exactly
ALLOWED_ADDED_CAPABILITIES: Final = frozenset({"NET_BIND_SERVICE"})
SECCOMP_TYPES: Final = frozenset({"RuntimeDefault", "Localhost"})
POD_SECURITY_LABEL: Final = "pod-security.kubernetes.io/enforce"
POD_SECURITY_LEVELS: Final = ("restricted", "baseline", "privileged")
DEFAULT_ALLOWED_LEVELS: Final = ("restricted",)
LB_SCHEME_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-scheme"
LB_INTERNAL_ANNOTATION: Final = "service.beta.kubernetes.io/aws-load-balancer-internal"
HOST_NAMESPACES: Final = ("hostNetwork", "hostPID", "hostIPC")
# "<repo>@<algorithm>:<hex digest>" (OCI image-spec digest; sha256 is what registries use).
_DIGEST: Final = re.compile(r"@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


# --- reading workloads ------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """One container or init container of a workload's pod spec."""

    owner: str  # "Kubernetes Deployment 'serve'"
    label: str  # "container 'app' (spec.template.spec.containers[0])"
    spec: Any  # the container (a dict)
    pod: Any  # the pod spec it belongs to (a dict)

    @property
    def who(self) -> str:
        return f"{self.owner} {self.label}"


def _kind(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def _who(subject: Subject) -> str:
    """How messages name a Kubernetes resource: its kind and its Pulumi logical name."""
    return f"Kubernetes {_kind(subject.type)} '{subject.name}'"


def pod_spec(subject: Subject) -> tuple[Any, str]:
    """The workload's pod spec (a dict, UNKNOWN or None) and where it sits in the manifest."""
    path, where = _POD_SPEC_PATHS[subject.type]
    return get(subject.props, *path), where


def containers(subject: Subject) -> list[Container]:
    """Known containers and init containers of a workload (unknown ones cannot be judged)."""
    pod, where = pod_spec(subject)
    if not isinstance(pod, dict):
        return []
    found: list[Container] = []
    for key, what in (("containers", "container"), ("initContainers", "init container")):
        for index, spec in enumerate(items(get(pod, key))):
            if not isinstance(spec, dict):
                continue
            location = f"{where}.{key}[{index}]"
            name = spec.get("name")
            named = f"{what} '{name}'" if isinstance(name, str) and name else what
            found.append(Container(_who(subject), f"{named} ({location})", spec, pod))
    return found


def _effective(container: Container, key: str) -> Any:
    """A pod-level security setting as the kubelet applies it: the container's wins."""
    own = get(container.spec, "securityContext", key)
    if own is not None:
        return own
    return get(container.pod, "securityContext", key)


def _is_false(value: Any) -> Tri:
    """Whether a wire boolean is explicitly false (absent is not)."""
    if value is UNKNOWN:
        return Tri.UNSURE
    if value is False or (isinstance(value, str) and value.lower() == "false"):
        return Tri.YES
    return Tri.NO


# --- k8s-pod-security-context -----------------------------------------------------------


def _non_root_gap(container: Container) -> str | None:
    user = _effective(container, "runAsUser")
    uid = number(user)
    if uid == 0:
        return "a non-zero runAsUser (it is 0, root)"
    flag = truth(_effective(container, "runAsNonRoot"))
    if flag is Tri.YES or (uid is not None and uid > 0):
        return None
    if flag is Tri.UNSURE or user is UNKNOWN:
        return None
    return "runAsNonRoot: true (or a non-zero runAsUser)"


def _capability_gaps(container: Container) -> list[str]:
    capabilities = get(container.spec, "securityContext", "capabilities")
    if capabilities is UNKNOWN:
        return []
    gaps: list[str] = []
    dropped, drop_unsure = strings(get(capabilities, "drop"))
    if CAPABILITY_ALL not in dropped and not drop_unsure:
        gaps.append("capabilities.drop: [ALL]")
    added, _ = strings(get(capabilities, "add"))
    extra = [cap for cap in added if cap not in ALLOWED_ADDED_CAPABILITIES]
    if extra:
        gaps.append(f"capabilities.add limited to NET_BIND_SERVICE (it adds {', '.join(extra)})")
    return gaps


def _seccomp_gap(container: Container) -> str | None:
    profile_type = get(_effective(container, "seccompProfile"), "type")
    if profile_type is UNKNOWN or (isinstance(profile_type, str) and profile_type in SECCOMP_TYPES):
        return None
    if isinstance(profile_type, str):
        return f"seccompProfile.type RuntimeDefault or Localhost (it is '{profile_type}')"
    return "seccompProfile.type: RuntimeDefault (or Localhost)"


def security_context_gaps(container: Container) -> list[str]:
    """Every restricted-profile setting the container certainly lacks."""
    gaps: list[str] = []
    non_root = _non_root_gap(container)
    if non_root:
        gaps.append(non_root)
    context = get(container.spec, "securityContext")
    if _is_false(get(context, "allowPrivilegeEscalation")) is Tri.NO:
        gaps.append("allowPrivilegeEscalation: false")
    if truth(get(context, "privileged")) is Tri.YES:
        gaps.append("privileged: false (it is true)")
    gaps.extend(_capability_gaps(container))
    seccomp = _seccomp_gap(container)
    if seccomp:
        gaps.append(seccomp)
    return gaps


def _check_security_context(subject: Subject) -> Iterator[str]:
    for container in containers(subject):
        gaps = security_context_gaps(container)
        if gaps:
            yield (
                f"{container.who} does not meet the restricted Pod Security Standard; it "
                f"needs {'; '.join(gaps)}. Set these in the container's securityContext "
                "(runAsNonRoot, runAsUser and seccompProfile may go in the pod's "
                "securityContext instead)."
            )


# --- k8s-no-host-access -----------------------------------------------------------------


def host_access(subject: Subject) -> list[str]:
    """What of the node a workload's pods certainly use: namespaces, paths, ports."""
    pod, where = pod_spec(subject)
    if not isinstance(pod, dict):
        return []
    found = [f"{where}.{key}: true" for key in HOST_NAMESPACES if truth(pod.get(key)) is Tri.YES]
    for index, volume in enumerate(items(pod.get("volumes"))):
        if not isinstance(volume, dict) or volume.get("hostPath") is None:
            continue
        name = volume.get("name")
        named = f"'{name}'" if isinstance(name, str) else f"{where}.volumes[{index}]"
        path = get(volume, "hostPath", "path")
        found.append(f"hostPath volume {named}" + (f" ({path})" if isinstance(path, str) else ""))
    for container in containers(subject):
        for port in items(get(container.spec, "ports")):
            host_port = number(get(port, "hostPort"))
            if host_port:  # absent, unknown and 0 (= none) open no node port
                found.append(f"hostPort {int(host_port)} on {container.label}")
    return found


def _check_host_access(subject: Subject) -> Iterator[str]:
    found = host_access(subject)
    if found:
        yield (
            f"{_who(subject)} uses the node's namespaces, files or ports: {'; '.join(found)}. "
            "A pod sharing the node's network, processes, IPC or files can escape to the node. "
            "Remove them: expose traffic through a Service and store data in an emptyDir or "
            "a PersistentVolumeClaim."
        )


# --- k8s-container-resources ------------------------------------------------------------


def _set(resources: Any, *path: str) -> bool:
    """A quantity is set, or unknown (which may well be set)."""
    value = get(resources, *path)
    return value is UNKNOWN or (value is not None and value != "")


def resource_gaps(container: Container) -> list[str]:
    """Missing cpu/memory requests and memory limit (a request defaults to its limit)."""
    resources = get(container.spec, "resources")
    if resources is UNKNOWN:
        return []
    gaps: list[str] = []
    for quantity in ("cpu", "memory"):
        if not _set(resources, "requests", quantity) and not _set(resources, "limits", quantity):
            gaps.append(f"requests.{quantity}")
    if not _set(resources, "limits", "memory"):
        gaps.append("limits.memory")
    return gaps


def _check_resources(subject: Subject) -> Iterator[str]:
    for container in containers(subject):
        gaps = resource_gaps(container)
        if gaps:
            yield (
                f"{container.who} sets no {', '.join(gaps)}, so the scheduler cannot place it "
                "and it can starve its neighbours. Set resources.requests.cpu, "
                "resources.requests.memory and resources.limits.memory, sized for the workload."
            )


# --- k8s-read-only-root-filesystem ------------------------------------------------------


def _check_read_only_root(subject: Subject) -> Iterator[str]:
    for container in containers(subject):
        value = get(container.spec, "securityContext", "readOnlyRootFilesystem")
        if truth(value) is Tri.NO:
            yield (
                f"{container.who} has a writable root filesystem. Set "
                "securityContext.readOnlyRootFilesystem: true and mount an emptyDir volume "
                "where the process must write (e.g. /tmp)."
            )


# --- k8s-image-pinned -------------------------------------------------------------------


def image_tag(image: str) -> str | None:
    """The tag of an image reference, None without one (a registry port is not a tag)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def unpinned(image: str) -> str | None:
    """Why ``image`` may change under the same manifest, or None if it is pinned."""
    if _DIGEST.search(image):
        return None
    tag = image_tag(image)
    if tag is None:
        return "has no tag, so it pulls 'latest'"
    if not tag:
        return "has an empty tag"
    if tag.lower() == "latest":
        return f"uses the floating tag '{tag}'"
    return None


def _check_image_pinned(subject: Subject) -> Iterator[str]:
    for container in containers(subject):
        image = container.spec.get("image")
        if not isinstance(image, str) or not image:
            continue  # unknown (an output, e.g. an ECR repository URL) or absent
        problem = unpinned(image)
        if problem:
            yield (
                f"{container.who} image '{image}' {problem}, so what runs can change without "
                "a change to the program. Use an explicit version tag, or pin the digest "
                "('<repository>@sha256:<digest>')."
            )


# --- k8s-namespace-pod-security ---------------------------------------------------------


def _check_namespace_pod_security(subject: Subject) -> Iterator[str]:
    allowed = list(subject.config.get("allowedLevels", DEFAULT_ALLOWED_LEVELS))
    labels = get(subject.props, "metadata", "labels")
    if labels is UNKNOWN:
        return
    level = get(labels, POD_SECURITY_LABEL)
    if level is UNKNOWN or level in allowed:
        return
    fix = (
        f"Add the label '{POD_SECURITY_LABEL}: {allowed[0]}' to its metadata.labels"
        if allowed
        else "Set the label"
    )
    if level is None:
        yield (
            f"{_who(subject)} has no '{POD_SECURITY_LABEL}' label, so Pod Security admission "
            f"lets any pod (privileged, host access, root) run in it. {fix}."
        )
    else:
        yield (
            f"{_who(subject)} enforces the Pod Security level '{level}', which is not in "
            f"allowedLevels ({', '.join(allowed)}). {fix}, or allow the level in the "
            "environment's policy config."
        )


# --- k8s-service-not-public -------------------------------------------------------------


def _is_internal(annotations: Any) -> Tri:
    """Whether a LoadBalancer Service is annotated to get an internal AWS load balancer."""
    if annotations is UNKNOWN:
        return Tri.UNSURE
    scheme = get(annotations, LB_SCHEME_ANNOTATION)
    if scheme is UNKNOWN:
        return Tri.UNSURE
    if isinstance(scheme, str):  # the scheme annotation wins over the legacy one
        return Tri.YES if scheme.lower() == "internal" else Tri.NO
    return truth(get(annotations, LB_INTERNAL_ANNOTATION))


def _check_service_not_public(subject: Subject) -> Iterator[str]:
    service_type = get(subject.props, "spec", "type")
    who = _who(subject)
    if service_type == "LoadBalancer":
        annotations = get(subject.props, "metadata", "annotations")
        if _is_internal(annotations) is not Tri.NO:
            return
        scheme = get(annotations, LB_SCHEME_ANNOTATION)
        why = (
            f"is annotated '{LB_SCHEME_ANNOTATION}: {scheme}'"
            if isinstance(scheme, str)
            else "is not annotated internal"
        )
        yield (
            f"{who} is of type LoadBalancer and {why}, so AWS provisions an internet-facing "
            f"load balancer. Set the annotation '{LB_SCHEME_ANNOTATION}: internal' in its "
            "metadata.annotations."
        )
    elif service_type == "NodePort" and not subject.config.get("allowNodePort", False):
        yield (
            f"{who} is of type NodePort, which opens its port on every node's address. Use "
            "type ClusterIP (reach it through an internal load balancer or ingress), or set "
            "allowNodePort in the environment's policy config."
        )


# --- k8s-service-account-token ----------------------------------------------------------


def _check_service_account_token(subject: Subject) -> Iterator[str]:
    pod, where = pod_spec(subject)
    if not isinstance(pod, dict) or pod.get("automountServiceAccountToken") is not None:
        return  # unknown, False, or True: an explicit True is the documented opt-out
    yield (
        f"{_who(subject)} mounts a Kubernetes API token into its pods: "
        f"{where}.automountServiceAccountToken is not set. Set it to false (IRSA still works: "
        "its AWS token is projected separately). A workload that really calls the Kubernetes "
        "API opts out of this policy by setting it to true explicitly."
    )


# --- k8s-namespace-default-deny ---------------------------------------------------------


def _namespace_name(node: Node) -> Any:
    """A Namespace's known name, UNKNOWN, or None (not set: auto-named by the provider)."""
    name = get(node.props, "metadata", "name")
    return name if name is UNKNOWN or (isinstance(name, str) and name) else None


def denies_all(policy: Node) -> Tri:
    """An empty pod selector whose policy types (or their default) include both directions."""
    spec = get(policy.props, "spec")
    if spec is UNKNOWN:
        return Tri.UNSURE
    selector = get(spec, "podSelector")
    if selector is UNKNOWN:
        return Tri.UNSURE
    selects: list[Tri] = []
    for key in ("matchLabels", "matchExpressions"):
        value = get(selector, key)
        selects.append(Tri.UNSURE if value is UNKNOWN else Tri.YES if not value else Tri.NO)
    types = get(spec, "policyTypes")
    if types is None:  # the API server's default: Ingress, plus Egress if egress rules exist
        egress = get(spec, "egress")
        has_egress = Tri.UNSURE if egress is UNKNOWN else Tri.YES if egress else Tri.NO
        return combine_all([*selects, has_egress])
    known, unsure = strings(types)
    both = Tri.YES if {"Ingress", "Egress"} <= set(known) else Tri.NO
    if both is Tri.NO and (unsure or types is UNKNOWN):
        both = Tri.UNSURE
    return combine_all([*selects, both])


def in_namespace(policy: Node, namespace: Node, namespaces: list[Node]) -> Tri:
    """Whether ``policy`` is created in ``namespace`` (by name, or by property dependency)."""
    value = get(policy.props, "metadata", "namespace")
    name = _namespace_name(namespace)
    deps = policy.property_dependencies.get("metadata", frozenset())
    if namespace.urn in deps:
        # metadata may depend on it for another field (a label): a known mismatch wins
        differs = isinstance(value, str) and isinstance(name, str) and value != name
        return Tri.NO if differs else Tri.YES
    if value is None:  # the provider's namespace, "default" unless configured
        return Tri.YES if name == "default" else Tri.NO
    if value is UNKNOWN:
        # Linked to another of the stack's namespaces, or to nothing we can follow.
        linked_elsewhere = any(other.urn in deps for other in namespaces)
        return Tri.NO if linked_elsewhere else Tri.UNSURE
    if name is UNKNOWN:
        return Tri.UNSURE
    return Tri.YES if value == name else Tri.NO


def _check_default_deny(graph: StackGraph, _config: Mapping[str, Any]) -> Iterator[Finding]:
    namespaces = graph.of_type(NAMESPACE_TYPE)
    policies = graph.of_type(*NETWORK_POLICY_TYPES)
    for namespace in namespaces:
        verdicts: list[Tri] = []
        partial: list[str] = []
        for policy in policies:
            inside = in_namespace(policy, namespace, namespaces)
            if inside is Tri.NO:
                continue
            denies = denies_all(policy)
            verdicts.append(combine_all([inside, denies]))
            if inside is Tri.YES and denies is Tri.NO:
                partial.append(f"'{policy.name}'")
        if combine_any(verdicts) is not Tri.NO:
            continue
        found = (
            f" (its NetworkPolicies {', '.join(sorted(partial))} do not select every pod for "
            "both Ingress and Egress)"
            if partial
            else ""
        )
        yield Finding(
            namespace.urn,
            f"Kubernetes Namespace '{namespace.name}' has no default-deny NetworkPolicy"
            f"{found}, so traffic no policy restricts flows freely in and out of its pods. "
            "Add a "
            "kubernetes.networking.v1.NetworkPolicy with metadata.namespace set to the "
            "namespace's metadata.name and spec {podSelector: {}, policyTypes: [Ingress, "
            "Egress]}, then allow the traffic the workloads need with further policies.",
        )


# --- the policies -----------------------------------------------------------------------

POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="k8s-pod-security-context",
        description=(
            "Checks that every Kubernetes container and init container runs as non-root, "
            "without privilege escalation or privileged mode, drops ALL capabilities (adding "
            "none but NET_BIND_SERVICE) and uses a RuntimeDefault or Localhost seccomp "
            "profile (the restricted Pod Security Standard)."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=WORKLOAD_TYPES,
        check=_check_security_context,
        remediation=(
            "Set securityContext on each container: runAsNonRoot: true, "
            "allowPrivilegeEscalation: false, capabilities.drop: [ALL], seccompProfile.type: "
            "RuntimeDefault (the non-root and seccomp settings may go in the pod's "
            "securityContext)."
        ),
    ),
    MlopsResourcePolicy(
        name="k8s-no-host-access",
        description=(
            "Checks that no Kubernetes pod uses hostNetwork, hostPID, hostIPC, hostPath "
            "volumes or container hostPorts."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=WORKLOAD_TYPES,
        check=_check_host_access,
        remediation=(
            "Remove hostNetwork/hostPID/hostIPC, hostPath volumes and hostPort; use a Service "
            "for traffic and an emptyDir or PersistentVolumeClaim for storage."
        ),
    ),
    MlopsResourcePolicy(
        name="k8s-container-resources",
        description=(
            "Checks that every Kubernetes container and init container sets cpu and memory "
            "requests and a memory limit."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=WORKLOAD_TYPES,
        check=_check_resources,
        remediation=(
            "Set resources.requests.cpu, resources.requests.memory and "
            "resources.limits.memory on every container."
        ),
    ),
    MlopsResourcePolicy(
        name="k8s-read-only-root-filesystem",
        description=(
            "Checks that every Kubernetes container and init container has a read-only root "
            "filesystem."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=WORKLOAD_TYPES,
        check=_check_read_only_root,
        remediation=(
            "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the "
            "container writes."
        ),
    ),
    MlopsResourcePolicy(
        name="k8s-image-pinned",
        description=(
            "Checks that every Kubernetes container image is pinned by digest or by an "
            "explicit tag other than latest."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=WORKLOAD_TYPES,
        check=_check_image_pinned,
        remediation="Use an explicit version tag or an '@sha256:<digest>' image reference.",
    ),
    MlopsResourcePolicy(
        name="k8s-namespace-pod-security",
        description=(
            "Checks that every Kubernetes Namespace enforces a Pod Security level from "
            "allowedLevels (label pod-security.kubernetes.io/enforce)."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(NAMESPACE_TYPE,),
        check=_check_namespace_pod_security,
        remediation=(
            "Add the label pod-security.kubernetes.io/enforce: restricted to the Namespace's "
            "metadata.labels."
        ),
        config_schema=schema(
            {
                "allowedLevels": {
                    "type": "array",
                    "items": {"type": "string", "enum": list(POD_SECURITY_LEVELS)},
                    "minItems": 1,
                    "uniqueItems": True,
                    "description": "Pod Security levels a Namespace may enforce.",
                    "default": list(DEFAULT_ALLOWED_LEVELS),
                }
            }
        ),
    ),
    MlopsStackPolicy(
        name="k8s-namespace-default-deny",
        description=(
            "Checks that every Kubernetes Namespace the stack creates has a NetworkPolicy "
            "with an empty pod selector covering both Ingress and Egress."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(NAMESPACE_TYPE, *NETWORK_POLICY_TYPES),
        check=_check_default_deny,
        remediation=(
            "Add a NetworkPolicy in the namespace with podSelector: {} and policyTypes: "
            "[Ingress, Egress], then allow the needed traffic with further policies."
        ),
    ),
    MlopsResourcePolicy(
        name="k8s-service-not-public",
        description=(
            "Checks that every Kubernetes Service of type LoadBalancer is annotated internal "
            "and that no Service is of type NodePort unless allowNodePort is set."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(SERVICE_TYPE,),
        check=_check_service_not_public,
        remediation=(
            "Annotate LoadBalancer Services with service.beta.kubernetes.io/"
            "aws-load-balancer-scheme: internal; use ClusterIP instead of NodePort."
        ),
        config_schema=schema(
            {
                "allowNodePort": {
                    "type": "boolean",
                    "description": "Whether Services of type NodePort are acceptable.",
                    "default": False,
                }
            }
        ),
    ),
    MlopsResourcePolicy(
        name="k8s-service-account-token",
        description=(
            "Checks that every Kubernetes pod spec sets automountServiceAccountToken (false "
            "unless the workload calls the Kubernetes API)."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=WORKLOAD_TYPES,
        check=_check_service_account_token,
        remediation=(
            "Set automountServiceAccountToken: false in the pod spec; set it to true "
            "explicitly only for workloads that call the Kubernetes API."
        ),
    ),
]
