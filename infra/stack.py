"""The ML environment: one component per area, composed from a `StackConfig`.

Order matters only where AWS checks references at creation: roles exist before the KMS
key policies that name them; keys before the buckets, registry, logs and queues they
encrypt; permissions (which name buckets and keys) after both; the endpoint after the
alarms it rolls back on and the permissions it runs with. Everything else follows from
the outputs each component passes to the next.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.config import StackConfig, load_config
from infra.endpoint import (
    ServingEndpoint,
    ServingEndpointArgs,
    capture_destination,
    image_uri,
    s3_uri,
)
from infra.iam import Roles, RolesArgs
from infra.k8s.model_server import ModelServer, ModelServerArgs
from infra.k8s.provider import kubernetes_provider
from infra.k8s.workspace import Workspace, WorkspaceArgs
from infra.kms import Keys, KeysArgs
from infra.monitoring import AlarmThresholds, Monitoring, MonitoringArgs, rollback_alarm_names
from infra.naming import endpoint_name
from infra.network import Network, NetworkArgs
from infra.outputs import METRICS_NAMESPACE, StackOutputs
from infra.permissions import Permissions, PermissionsArgs
from infra.registry import Registry, RegistryArgs
from infra.retraining import Retraining, RetrainingArgs
from infra.storage import Storage, StorageArgs
from infra.training import TrainingCompute, TrainingComputeArgs


def build_stack(cfg: StackConfig) -> dict[str, Any]:
    """Declare every resource of the stack and export `StackOutputs`; returns the exports."""
    prefix, tags, account = cfg.name_prefix, cfg.tags, cfg.account_id
    backend, eks_cluster = cfg.pulumi_backend, cfg.eks_cluster

    roles = Roles(
        "roles",
        RolesArgs(
            prefix=prefix,
            tags=tags,
            account_id=account,
            region=cfg.region,
            environment=cfg.environment.value,
            github_repository=cfg.ci.github_repository,
            github_environment=cfg.ci.github_environment,
            github_ml_environment=cfg.ci.ml_environment,
            preview_from_pull_requests=cfg.ci.preview_from_pull_requests,
            oidc_provider_arn=cfg.ci.oidc_provider_arn,
            kubernetes_oidc_provider_arn=(
                cfg.kubernetes.oidc_provider_arn if cfg.kubernetes.enabled else ""
            ),
            kubernetes_namespace=cfg.kubernetes.namespace,
            backend=backend,
            eks_cluster=eks_cluster,
        ),
    )
    keys = Keys(
        "keys",
        KeysArgs(
            prefix=prefix,
            account_id=account,
            region=cfg.region,
            tags=tags,
            user_role_arns=[
                roles.sagemaker_role_arn,
                roles.deploy_role_arn,
                roles.retrain_role_arn,
                *(
                    [roles.kubernetes_serving_role_arn, roles.kubernetes_training_role_arn]
                    if cfg.kubernetes.enabled
                    else []
                ),
            ],
        ),
    )
    storage = Storage(
        "storage",
        StorageArgs(
            prefix=prefix,
            tags=tags,
            account_id=account,
            region=cfg.region,
            kms_key_arn=keys.data_key_arn,
            **cfg.storage.model_dump(),
        ),
    )
    registry = Registry(
        "registry",
        RegistryArgs(
            prefix=prefix,
            tags=tags,
            kms_key_arn=keys.data_key_arn,
            keep_images=cfg.registry.keep_images,
        ),
    )
    network = _network(cfg, keys, roles.boundary_arn) if cfg.network.enabled else None
    subnet_ids: Any = network.subnet_ids if network else []
    endpoint = endpoint_name(prefix)
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            prefix=prefix,
            tags=tags,
            region=cfg.region,
            logs_kms_key_arn=keys.logs_key_arn,
            thresholds=AlarmThresholds(
                **cfg.monitoring.model_dump(exclude={"alert_emails", "log_retention_days"}),
                drift_threshold=cfg.retraining.drift_threshold,
            ),
            endpoint_name=endpoint,
            endpoint_deployed=cfg.endpoint.serves_model,
            instance_type=cfg.endpoint.instance_type,
            log_retention_days=cfg.monitoring.log_retention_days,
            alert_emails=cfg.monitoring.alert_emails,
        ),
    )
    retraining = None
    if cfg.retraining.enabled:
        retraining = Retraining(
            "retraining",
            RetrainingArgs(
                prefix=prefix,
                tags=tags,
                kms_key_arn=keys.logs_key_arn,
                schedule=cfg.retraining.schedule,
                alarm_arns=[
                    monitoring.drift_alarm_arn,
                    monitoring.prediction_drift_alarm_arn,
                    monitoring.accuracy_alarm_arn,
                ],
            ),
        )

    permissions = Permissions(
        "permissions",
        PermissionsArgs(
            prefix=prefix,
            tags=tags,
            account_id=account,
            region=cfg.region,
            sagemaker_role_name=roles.sagemaker_role_name,
            deploy_role_name=roles.deploy_role_name,
            monitoring_role_name=roles.monitoring_role_name,
            preview_role_name=(
                roles.preview_role_name if cfg.ci.preview_from_pull_requests else None
            ),
            datasets_bucket_arn=storage.datasets_bucket_arn,
            models_bucket_arn=storage.models_bucket_arn,
            capture_bucket_arn=storage.capture_bucket_arn,
            data_kms_key_arn=keys.data_key_arn,
            extra_kms_key_arns=[keys.logs_key_arn],
            repository_arn=registry.repository_arn,
            vpc_id=network.vpc_id if network else None,
            retrain_role_name=roles.retrain_role_name,
            retraining_queue_arn=retraining.queue_arn if retraining else None,
            sagemaker_role_arn=roles.sagemaker_role_arn,
            kubernetes_serving_role_name=(
                roles.kubernetes_serving_role_name if cfg.kubernetes.enabled else None
            ),
            kubernetes_training_role_name=(
                roles.kubernetes_training_role_name if cfg.kubernetes.enabled else None
            ),
            backend=backend,
            eks_cluster=eks_cluster,
        ),
    )
    training = TrainingCompute(
        "training",
        TrainingComputeArgs(
            prefix=prefix,
            tags=tags,
            role_arn=roles.sagemaker_role_arn,
            models_bucket=storage.models_bucket,
            kms_key_arn=keys.data_key_arn,
            log_kms_key_arn=keys.logs_key_arn,
            runner=cfg.training.runner,
            instance_types=cfg.training.instance_types,
            max_instances=cfg.training.max_instances,
            max_runtime_seconds=cfg.training.max_runtime_seconds,
            spot=cfg.training.spot,
            log_retention_days=cfg.monitoring.log_retention_days,
            subnet_ids=subnet_ids,
            security_group_ids=[network.training_security_group_id] if network else [],
        ),
        pulumi.ResourceOptions(depends_on=[permissions]),
    )
    serving = None
    if cfg.endpoint.serves_model:
        # After the alarms it rolls back on, and after the permissions it runs with.
        serving = ServingEndpoint(
            "endpoint",
            ServingEndpointArgs(
                prefix=prefix,
                tags=tags,
                role_arn=roles.sagemaker_role_arn,
                kms_key_arn=keys.data_key_arn,
                capture_bucket=storage.capture_bucket,
                models_bucket=storage.models_bucket,
                instance_type=cfg.endpoint.instance_type,
                min_instances=cfg.endpoint.min_instances,
                max_instances=cfg.endpoint.max_instances,
                target_invocations=cfg.endpoint.target_invocations,
                data_capture_percent=cfg.endpoint.data_capture_percent,
                deployment_strategy=cfg.endpoint.deployment_strategy,
                canary_percent=cfg.endpoint.canary_percent,
                bake_seconds=cfg.endpoint.bake_seconds,
                rollback_alarm_names=rollback_alarm_names(prefix),
                model_package_arn=cfg.endpoint.model_package_arn,
                image=cfg.endpoint.model_image,
                repository_url=registry.repository_url,
                model_data_key=cfg.endpoint.model_data_key,
                subnet_ids=subnet_ids if network else None,
                security_group_ids=[network.serving_security_group_id] if network else None,
            ),
            pulumi.ResourceOptions(depends_on=[monitoring, permissions]),
        )
    exports: dict[str, Any] = {
        "stack": cfg.stack,
        "name_prefix": prefix,
        "environment": cfg.environment.value,
        "region": cfg.region,
        "account_id": account,
        "datasets_bucket": storage.datasets_bucket,
        "models_bucket": storage.models_bucket,
        "capture_bucket": storage.capture_bucket,
        "logs_bucket": storage.logs_bucket,
        "data_kms_key_arn": keys.data_key_arn,
        "ecr_repository_url": registry.repository_url,
        "model_package_group_name": registry.model_package_group_name,
        "registry_auto_approve": cfg.registry.auto_approve,
        "gate_metric": cfg.registry.gate_metric,
        "gate_minimum": cfg.registry.gate_minimum,
        "gate_max_regression": cfg.registry.gate_max_regression,
        "training_runner": training.runner,
        "training_role_arn": training.role_arn,
        "training_instance_types": training.instance_types,
        "training_max_instances": training.max_instances,
        "training_max_runtime_seconds": training.max_runtime_seconds,
        "training_max_wait_seconds": training.max_wait_seconds,
        "training_spot": training.spot,
        "training_output_path": training.output_path,
        "training_checkpoint_path": training.checkpoint_path,
        "training_subnet_ids": training.subnet_ids,
        "training_security_group_ids": training.security_group_ids,
        "endpoint_name": endpoint,
        "endpoint_deployed": serving is not None,
        "endpoint_capture_path": serving.capture_path
        if serving
        else storage.capture_bucket.apply(lambda bucket: capture_destination(bucket, endpoint)),
        "metrics_namespace": METRICS_NAMESPACE,
        "alert_topic_arn": monitoring.topic_arn,
        "drift_threshold": cfg.retraining.drift_threshold,
        "prediction_drift_threshold": cfg.monitoring.prediction_drift,
        "min_accuracy": cfg.monitoring.min_accuracy,
        "retraining_queue_url": retraining.queue_url if retraining else "",
        "deploy_role_arn": roles.deploy_role_arn,
        "preview_role_arn": roles.preview_role_arn,
        "monitoring_role_arn": roles.monitoring_role_arn,
        "retrain_role_arn": roles.retrain_role_arn,
    }
    fields = StackOutputs.model_fields
    for key, value in exports.items():
        pulumi.export(fields[key].alias or key, value)
    if cfg.kubernetes.enabled:
        _kubernetes(cfg, roles, storage, registry, exports)
    return exports


def _kubernetes(
    cfg: StackConfig, roles: Roles, storage: Storage, registry: Registry, exports: dict[str, Any]
) -> None:
    """The namespace, and the model server when the stack names a model by image."""
    provider = kubernetes_provider("kubernetes", cfg.kubernetes.kubeconfig)
    labels = {
        "app.kubernetes.io/part-of": cfg.name_prefix,
        "app.kubernetes.io/managed-by": "pulumi",
        "mlops.io/environment": cfg.environment.value,
    }
    k8s = cfg.kubernetes
    workspace = Workspace(
        "k8s",
        WorkspaceArgs(
            namespace=k8s.namespace,
            labels=labels,
            serving_role_arn=roles.kubernetes_serving_role_arn,
            training_role_arn=roles.kubernetes_training_role_arn,
            quota_cpu=k8s.quota_cpu,
            quota_memory=k8s.quota_memory,
            ingress_namespaces=k8s.ingress_namespaces,
            ingress_cidrs=k8s.ingress_cidrs,
        ),
        provider,
    )
    image, key = cfg.endpoint.model_image, cfg.endpoint.model_data_key
    if not (image and key):
        return
    fields = StackOutputs.model_fields
    named = {fields[k].alias or k: v for k, v in exports.items()}
    ModelServer(
        "model-server",
        ModelServerArgs(
            namespace=workspace.namespace,
            service_account=workspace.serving_service_account,
            image=registry.repository_url.apply(lambda url: image_uri(image, url)),
            model_data_url=storage.models_bucket.apply(lambda bucket: s3_uri(bucket, key)),
            stack_outputs_json=pulumi.Output.all(**named).apply(
                lambda values: json.dumps(values, sort_keys=True)
            ),
            region=cfg.region,
            labels=labels,
            capture_percent=cfg.endpoint.data_capture_percent,
            min_replicas=k8s.serving_min_replicas,
            max_replicas=k8s.serving_max_replicas,
            cpu=k8s.serving_cpu,
            memory=k8s.serving_memory,
            cpu_target=k8s.serving_cpu_target,
            scratch=k8s.serving_scratch,
        ),
        provider,
    )


def _network(cfg: StackConfig, keys: Keys, boundary_arn: pulumi.Output[str]) -> Network:
    zones = aws.get_availability_zones_output(state="available").names
    return Network(
        "network",
        NetworkArgs(
            prefix=cfg.name_prefix,
            tags=cfg.tags,
            account_id=cfg.account_id,
            region=cfg.region,
            availability_zones=zones,
            log_kms_key_arn=keys.logs_key_arn,
            cidr=cfg.network.cidr,
            az_count=cfg.network.az_count,
            isolated=cfg.network.isolated,
            flow_log_retention_days=cfg.network.flow_log_retention_days,
            permissions_boundary=boundary_arn,
        ),
    )


def program() -> None:
    """What `pulumi up` runs: the stack's config, read under the engine, then the stack."""
    build_stack(load_config())
