"""`StackOutputs`: the stack's exported keys, the one contract `ml/` reads.

Exported under camelCase keys (Pulumi's convention) exactly as listed here; `ml/` loads
them from the sandbox state or from `pulumi stack output --json`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class StackOutputs(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    stack: str = Field(description="Pulumi stack name.")
    name_prefix: str = Field(description="<project>-<stack>: the start of physical names.")
    environment: str = Field(description="local, dev, staging or prod.")
    region: str
    account_id: str
    # storage
    datasets_bucket: str = Field(description="Versioned bucket for datasets.")
    models_bucket: str = Field(description="Versioned bucket for model artifacts.")
    capture_bucket: str = Field(description="Endpoint data capture records.")
    logs_bucket: str = Field(description="S3 access logs.")
    data_kms_key_arn: str = Field(description="Key for data, artifacts, volumes and images.")
    # registry
    ecr_repository_url: str
    model_package_group_name: str
    registry_auto_approve: bool
    gate_metric: str = Field(description="Holdout metric of the evaluation gate.")
    gate_minimum: float
    gate_max_regression: float
    # training: what a job must use to satisfy the policies by construction
    training_runner: str
    training_role_arn: str
    training_instance_types: list[str]
    training_max_instances: int
    training_max_runtime_seconds: int
    training_max_wait_seconds: int = Field(
        0, description="Spot: runtime plus waiting; 0 on demand."
    )
    training_spot: bool
    training_output_path: str = Field(description="s3:// prefix for training output.")
    training_checkpoint_path: str = Field(description="s3:// prefix for spot checkpoints.")
    training_subnet_ids: list[str]
    training_security_group_ids: list[str]
    # serving
    endpoint_name: str = Field(description="The stack's endpoint name (stable).")
    endpoint_deployed: bool = Field(description="Whether the stack config serves a model.")
    endpoint_capture_path: str = Field(description="s3:// prefix of data capture files.")
    # monitoring and retraining
    metrics_namespace: str
    alert_topic_arn: str
    drift_threshold: float
    prediction_drift_threshold: float
    min_accuracy: float
    retraining_queue_url: str
    # CI and operations
    deploy_role_arn: str
    preview_role_arn: str = Field(description="Read-only role for pull-request previews.")
    monitoring_role_arn: str
    retrain_role_arn: str = Field("", description="Role CI retraining jobs assume (data only).")

    @model_validator(mode="before")
    @classmethod
    def _derive_prefix(cls, data: Any) -> Any:
        """Exports from before `namePrefix` existed: the endpoint is `<prefix>-endpoint`."""
        if isinstance(data, dict) and not {"name_prefix", "namePrefix"} & set(data):
            endpoint = data.get("endpoint_name") or data.get("endpointName") or ""
            if endpoint.endswith("-endpoint"):
                data = {**data, "name_prefix": endpoint.removesuffix("-endpoint")}
        return data

    @classmethod
    def keys(cls) -> list[str]:
        """The exported key names, in order."""
        return [to_camel(name) for name in cls.model_fields]

    @classmethod
    def from_exports(cls, exports: dict[str, Any]) -> StackOutputs:
        return cls.model_validate(exports)


METRICS_NAMESPACE = "MLOps"
# Dimensions of every custom metric ml/ publishes and the alarms watch.
METRIC_DIMENSIONS = ("Stack", "EndpointName")
FEATURE_DRIFT_METRIC = "FeatureDrift"
PREDICTION_DRIFT_METRIC = "PredictionDrift"
ACCURACY_METRIC = "Accuracy"
