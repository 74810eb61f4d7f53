"""`ModelServer`: the stack's model served on Kubernetes by the same server SageMaker runs
(`python -m ml.serve`, the image's entrypoint), capturing requests to the stack's capture
bucket in SageMaker's format, so `mlops monitor` reads both alike.

The pod downloads `model.tar.gz` at start (the startup probe allows for it), reads the
stack's outputs from a ConfigMap (which bucket, which key), and gets AWS credentials only
through its service account's IAM role. It runs under the `restricted` Pod Security
profile with a read-only root filesystem (scratch space is an emptyDir at /tmp).

The Deployment names no replica count: the HorizontalPodAutoscaler owns it, and with
server-side apply Pulumi would otherwise reset it on every update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

from infra.k8s.manifest import Manifest, api, name_of, object_metadata
from infra.k8s.workspace import MODEL_SERVER_APP, MODEL_SERVER_PORT

OUTPUTS_DIR: Final = "/etc/mlops"
OUTPUTS_FILE: Final = "outputs.json"
# Non-root ids outside the range images usually give system users.
RUN_AS: Final = 10001
# Capture records are flushed at shutdown (the server's lifespan hook): give it time.
GRACE_SECONDS: Final = 60


def server_args(model_data_url: Any, capture_percent: int) -> list[Any]:
    return [
        "serve",
        "--model-data",
        model_data_url,
        "--outputs-file",
        f"{OUTPUTS_DIR}/{OUTPUTS_FILE}",
        "--port",
        str(MODEL_SERVER_PORT),
        "--capture-percent",
        str(capture_percent),
    ]


def deployment_spec(
    *,
    image: Any,
    model_data_url: Any,
    region: str,
    service_account: Any,
    config_map: Any,
    capture_percent: int,
    cpu: str,
    memory: str,
    labels: Mapping[str, str],
    scratch: str = "4Gi",
    outputs_digest: Any = "",
) -> Manifest:
    """The Deployment's spec; `image`, `model_data_url`, `service_account` and
    `config_map` may be Outputs (Pulumi resolves nested inputs)."""
    selector = {"app.kubernetes.io/name": MODEL_SERVER_APP}
    probe = {"httpGet": {"path": "/ping", "port": "http"}, "periodSeconds": 5}
    container = {
        "name": MODEL_SERVER_APP,
        "image": image,
        "args": server_args(model_data_url, capture_percent),
        "ports": [{"name": "http", "containerPort": MODEL_SERVER_PORT, "protocol": "TCP"}],
        "env": [
            {"name": "AWS_REGION", "value": region},
            {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            # Read-only root: no bytecode caches, and a writable home for libraries.
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "HOME", "value": "/tmp"},
        ],
        # Up to 5 minutes to download and load the model before liveness checks start.
        "startupProbe": {**probe, "failureThreshold": 60},
        "readinessProbe": {**probe, "failureThreshold": 2},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 3},
        # A CPU limit would throttle a busy server; requests alone schedule it.
        "resources": {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"memory": memory},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "stack-outputs", "mountPath": OUTPUTS_DIR, "readOnly": True},
            {"name": "scratch", "mountPath": "/tmp"},
        ],
    }
    return {
        "selector": {"matchLabels": selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        "template": {
            "metadata": {
                "labels": {**labels, **selector},
                "annotations": {
                    # The server reads the stack's outputs at start: new outputs, new pods.
                    "mlops.io/stack-outputs-sha256": outputs_digest,
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(MODEL_SERVER_PORT),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": {
                "serviceAccountName": service_account,
                # The IRSA webhook mounts its own token; the API token is not needed.
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": RUN_AS,
                    "runAsGroup": RUN_AS,
                    "fsGroup": RUN_AS,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": selector},
                    }
                ],
                "containers": [container],
                "volumes": [
                    {"name": "stack-outputs", "configMap": {"name": config_map}},
                    # The archive and the unpacked model are both here while it loads.
                    {"name": "scratch", "emptyDir": {"sizeLimit": scratch}},
                ],
            },
        },
    }


def service_spec() -> Manifest:
    """Cluster-internal only: exposing it is the ingress controller's job."""
    return {
        "type": "ClusterIP",
        "selector": {"app.kubernetes.io/name": MODEL_SERVER_APP},
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }


def autoscaler_spec(deployment: Any, minimum: int, maximum: int, cpu_target: int) -> Manifest:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicas": minimum,
        "maxReplicas": maximum,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": cpu_target},
                },
            }
        ],
    }


def disruption_budget_spec() -> Manifest:
    """One pod down at a time during node drains (with one replica, drains still work)."""
    return {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": MODEL_SERVER_APP}},
    }


@dataclass(frozen=True)
class ModelServerArgs:
    namespace: pulumi.Input[str]
    """Workspace.namespace."""
    service_account: pulumi.Input[str]
    """Workspace.serving_service_account."""
    image: pulumi.Input[str]
    """Full image URI of the serving image (infra.endpoint.image_uri)."""
    model_data_url: pulumi.Input[str]
    """s3:// URL of model.tar.gz in the stack's models bucket."""
    stack_outputs_json: pulumi.Input[str]
    """The stack's exports (StackOutputs) as JSON: the server's view of the stack."""
    region: str
    labels: Mapping[str, str]
    capture_percent: int = 100
    min_replicas: int = 2
    max_replicas: int = 4
    cpu: str = "500m"
    memory: str = "1Gi"
    cpu_target: int = 70
    scratch: str = "4Gi"


class ModelServer(pulumi.ComponentResource):
    """ConfigMap, Deployment, Service, autoscaler and disruption budget of the server."""

    service_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ModelServerArgs,
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:k8s:ModelServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = dict(args.labels)

        def meta(object_name: str) -> Manifest:
            return object_metadata(object_name, args.namespace, labels)

        outputs = k8s.core.v1.ConfigMap(
            f"{name}-stack-outputs",
            metadata=api(meta(f"{MODEL_SERVER_APP}-stack")),
            data={OUTPUTS_FILE: args.stack_outputs_json},
            opts=child,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=api(meta(MODEL_SERVER_APP)),
            spec=api(
                deployment_spec(
                    image=args.image,
                    model_data_url=args.model_data_url,
                    region=args.region,
                    service_account=args.service_account,
                    config_map=name_of(outputs),
                    capture_percent=args.capture_percent,
                    cpu=args.cpu,
                    memory=args.memory,
                    labels=labels,
                    scratch=args.scratch,
                    outputs_digest=pulumi.Output.from_input(args.stack_outputs_json).apply(
                        lambda text: hashlib.sha256(text.encode()).hexdigest()
                    ),
                )
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=api(meta(MODEL_SERVER_APP)),
            spec=api(service_spec()),
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-autoscaler",
            metadata=api(meta(MODEL_SERVER_APP)),
            spec=api(
                autoscaler_spec(
                    name_of(deployment),
                    args.min_replicas,
                    args.max_replicas,
                    args.cpu_target,
                )
            ),
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=api(meta(MODEL_SERVER_APP)),
            spec=api(disruption_budget_spec()),
            opts=child,
        )
        self.service_name = name_of(service)
        self.register_outputs({"service_name": self.service_name})
