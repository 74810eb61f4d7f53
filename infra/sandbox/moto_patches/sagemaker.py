"""SageMaker gap fills for moto 5.2: calls the toolkit makes that moto lacks or answers malformed.

moto 5.2.5 has no `UpdateEndpoint`, no monitoring-schedule operations and no
`StopTrainingJob` (its server answers 500 "action has not been implemented"), and some of its
describe results carry empty or half-filled structures (`DataCaptureConfig: {}`,
`VpcConfig: {}`, an endpoint's capture config in the *request* shape) that the `sagemaker`
SDK v3 rejects: its resources are pydantic models built from botocore's service model,
with `extra="forbid"` and the model's required members required.

Each function below fills one gap. `install()` adds them as methods of moto's
`SageMakerResponse`, the per-request handler its server dispatches to by action name;
nothing in site-packages is edited. New state lives in the backend instance's `__dict__`,
which `BaseBackend.reset()` empties, so `POST /moto-api/reset` clears it with the rest.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeTrainingJob,
    SageMakerModelBackend,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

JSON = dict[str, Any]


def _backend(response: SageMakerResponse) -> SageMakerModelBackend:
    return response.sagemaker_backend


def _state(backend: SageMakerModelBackend, key: str) -> dict[str, Any]:
    # In the backend's __dict__ so that moto's reset (which empties it) clears ours too.
    return cast(dict[str, Any], vars(backend).setdefault(f"mlops_{key}", {}))


def _pruned(value: Any) -> Any:
    """Drop None and `{}` members, recursively: AWS omits a structure it has nothing for,
    while the SDK rejects an empty one whose shape has required members."""
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


# --- UpdateEndpoint -------------------------------------------------------------------------


def update_endpoint(self: SageMakerResponse) -> ActionResult:
    """Switch an endpoint to another endpoint config (moto lacks UpdateEndpoint).

    Like moto's CreateEndpoint the switch is instant: the endpoint stays InService with the
    new config's variants and capture config, LastModifiedTime moves on, and the config it
    replaced is appended to a per-endpoint history kept on the backend.
    """
    backend = _backend(self)
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    _state(backend, "endpoint_config_history").setdefault(name, []).append(
        endpoint.endpoint_config_name
    )
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = utcnow()
    deployment_config = self._get_param("DeploymentConfig")
    if deployment_config:
        # gen_response_object turns attributes into members: this is LastDeploymentConfig
        vars(endpoint)["last_deployment_config"] = deployment_config
    return ActionResult({"EndpointArn": endpoint.arn})


# --- StopTrainingJob ------------------------------------------------------------------------


def stop_training_job(self: SageMakerResponse) -> EmptyResult:
    """Mark a training job Stopped (moto lacks StopTrainingJob).

    moto completes jobs at creation, so unlike AWS (which refuses to stop a finished job)
    this stops any job that is not already Stopped; that keeps a cancel path testable.
    """
    backend = _backend(self)
    name = self._get_param("TrainingJobName")
    job = backend.training_jobs.get(name)
    if job is None:
        arn = FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name)
        raise ResourceNotFound(message=f"Could not find training job '{arn}'.")
    if job.training_job_status != "Stopped":
        now = utcnow()
        job.training_job_status = job.secondary_status = "Stopped"
        job.last_modified_time = job.training_end_time = now
        job.secondary_status_transitions.append(
            {"Status": "Stopped", "StartTime": now, "StatusMessage": "Training job stopped"}
        )
    return EmptyResult()


# --- Monitoring schedules -------------------------------------------------------------------


@dataclass
class MonitoringSchedule:
    """One monitoring schedule as DescribeMonitoringSchedule reports it."""

    name: str
    arn: str
    config: JSON
    endpoint_name: str | None
    tags: list[dict[str, str]]
    status: str = "Scheduled"  # moto-style: no Pending phase, like its endpoints and jobs
    creation_time: datetime = field(default_factory=utcnow)
    last_modified_time: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.last_modified_time = self.creation_time

    @property
    def monitoring_type(self) -> str:
        return str(self.config.get("MonitoringType", "DataQuality"))

    def summary(self) -> JSON:
        return _pruned(
            {
                "MonitoringScheduleName": self.name,
                "MonitoringScheduleArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "MonitoringScheduleStatus": self.status,
                "EndpointName": self.endpoint_name,
                "MonitoringJobDefinitionName": self.config.get("MonitoringJobDefinitionName"),
                "MonitoringType": self.monitoring_type,
            }
        )

    def describe(self) -> JSON:
        return _pruned(
            {
                "MonitoringScheduleArn": self.arn,
                "MonitoringScheduleName": self.name,
                "MonitoringScheduleStatus": self.status,
                "MonitoringType": self.monitoring_type,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
                "MonitoringScheduleConfig": copy.deepcopy(self.config),
                "EndpointName": self.endpoint_name,
            }
        )


_JOB_DEFINITION_STORES = (
    "data_quality_job_definitions",
    "model_quality_job_definitions",
    "model_bias_job_definitions",
    "model_explainability_job_definitions",
)


def _monitored_endpoint(backend: SageMakerModelBackend, config: JSON) -> str | None:
    """The endpoint a schedule watches: from its inline job definition, or from the named
    job definition (moto stores those) when the schedule refers to one."""
    inline = config.get("MonitoringJobDefinition") or {}
    inputs = [i.get("EndpointInput") or {} for i in inline.get("MonitoringInputs") or []]
    definition_name = config.get("MonitoringJobDefinitionName")
    for store in _JOB_DEFINITION_STORES:
        definition = getattr(backend, store, {}).get(definition_name)
        if definition is not None:
            inputs += [
                value.get("EndpointInput") or {}
                for key, value in vars(definition).items()
                if key.endswith("_job_input") and isinstance(value, dict)
            ]
    return next((i["EndpointName"] for i in inputs if i.get("EndpointName")), None)


def _schedules(backend: SageMakerModelBackend) -> dict[str, MonitoringSchedule]:
    return _state(backend, "monitoring_schedules")


def _schedule(backend: SageMakerModelBackend, name: str) -> MonitoringSchedule:
    schedule = _schedules(backend).get(name)
    if schedule is None:
        arn = arn_formatter("monitoring-schedule", name, backend.account_id, backend.region_name)
        raise ResourceNotFound(message=f"Could not find monitoring schedule '{arn}'.")
    return schedule


def create_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    """CreateMonitoringSchedule (moto lacks all monitoring-schedule operations)."""
    backend = _backend(self)
    name = self._get_param("MonitoringScheduleName")
    if name in _schedules(backend):
        arn = _schedules(backend)[name].arn
        raise ResourceInUseException(message=f"Monitoring schedule '{arn}' already exists.")
    config = self._get_param("MonitoringScheduleConfig") or {}
    schedule = MonitoringSchedule(
        name=name,
        arn=arn_formatter("monitoring-schedule", name, backend.account_id, backend.region_name),
        config=config,
        endpoint_name=_monitored_endpoint(backend, config),
        tags=list(self._get_param("Tags") or []),
    )
    _schedules(backend)[name] = schedule
    return ActionResult({"MonitoringScheduleArn": schedule.arn})


def describe_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    """DescribeMonitoringSchedule."""
    return ActionResult(
        _schedule(_backend(self), self._get_param("MonitoringScheduleName")).describe()
    )


def update_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    """UpdateMonitoringSchedule: replaces the whole config, as AWS does."""
    backend = _backend(self)
    schedule = _schedule(backend, self._get_param("MonitoringScheduleName"))
    schedule.config = self._get_param("MonitoringScheduleConfig") or {}
    schedule.endpoint_name = _monitored_endpoint(backend, schedule.config)
    schedule.last_modified_time = utcnow()
    return ActionResult({"MonitoringScheduleArn": schedule.arn})


def delete_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    """DeleteMonitoringSchedule."""
    backend = _backend(self)
    name = self._get_param("MonitoringScheduleName")
    _schedule(backend, name)
    del _schedules(backend)[name]
    return EmptyResult()


def _set_schedule_status(self: SageMakerResponse, status: str) -> EmptyResult:
    schedule = _schedule(_backend(self), self._get_param("MonitoringScheduleName"))
    schedule.status = status
    schedule.last_modified_time = utcnow()
    return EmptyResult()


def start_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    """StartMonitoringSchedule: Stopped -> Scheduled."""
    return _set_schedule_status(self, "Scheduled")


def stop_monitoring_schedule(self: SageMakerResponse) -> EmptyResult:
    """StopMonitoringSchedule: -> Stopped."""
    return _set_schedule_status(self, "Stopped")


_LIST_FILTERS: dict[str, Callable[[MonitoringSchedule, Any], bool]] = {
    "EndpointName": lambda s, v: s.endpoint_name == v,
    "NameContains": lambda s, v: v in s.name,
    "StatusEquals": lambda s, v: s.status == v,
    "MonitoringTypeEquals": lambda s, v: s.monitoring_type == v,
    "MonitoringJobDefinitionName": lambda s, v: s.config.get("MonitoringJobDefinitionName") == v,
    "CreationTimeBefore": lambda s, v: s.creation_time < v,
    "CreationTimeAfter": lambda s, v: s.creation_time > v,
    "LastModifiedTimeBefore": lambda s, v: s.last_modified_time < v,
    "LastModifiedTimeAfter": lambda s, v: s.last_modified_time > v,
}
_SORT_KEYS: dict[str, Callable[[MonitoringSchedule], Any]] = {
    "Name": lambda s: s.name,
    "CreationTime": lambda s: s.creation_time,
    "Status": lambda s: s.status,
}


def list_monitoring_schedules(self: SageMakerResponse) -> ActionResult:
    """ListMonitoringSchedules with AWS's filters, sort keys and NextToken paging."""
    schedules = list(_schedules(_backend(self)).values())
    for param, matches in _LIST_FILTERS.items():
        wanted = self._get_param(param)
        if wanted is not None:
            schedules = [s for s in schedules if matches(s, wanted)]
    schedules.sort(
        key=_SORT_KEYS[self._get_param("SortBy") or "CreationTime"],
        reverse=(self._get_param("SortOrder") or "Descending") == "Descending",
    )
    token = self._get_param("NextToken") or "0"
    if not token.isdigit():
        raise ValidationError(message=f"Invalid pagination token '{token}'.")
    start = int(token)
    stop = start + int(self._get_param("MaxResults") or 100)
    result: JSON = {"MonitoringScheduleSummaries": [s.summary() for s in schedules[start:stop]]}
    if stop < len(schedules):
        result["NextToken"] = str(stop)
    return ActionResult(result)


def _get_resource_from_arn(original: Callable[..., Any]) -> Callable[..., Any]:
    """Let ListTags/AddTags/DeleteTags find monitoring schedules, which moto doesn't know."""

    def lookup(backend: SageMakerModelBackend, arn: str) -> Any:
        if ":monitoring-schedule/" in arn:
            return _schedule(backend, arn.rsplit("/", 1)[-1])
        return original(backend, arn)

    return lookup


# --- Well-formed describe results -----------------------------------------------------------


def _resolved_image(image: str) -> str:
    """A digest-pinned form of an image URI, as AWS reports it in DeployedImages."""
    if "@sha256:" in image:
        return image
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _model_images(backend: SageMakerModelBackend, model_name: str | None) -> list[str]:
    model = backend._models.get(model_name or "")
    if model is None:
        return []
    containers = [model.primary_container, *model.containers]
    return [c["Image"] for c in containers if c and c.get("Image")]


def _capture_summary(capture: JSON | None) -> JSON | None:
    """DescribeEndpoint's DataCaptureConfigSummary from the endpoint config's DataCaptureConfig.

    moto copies the *config* shape onto the endpoint; the wire then keeps only EnableCapture
    and DestinationS3Uri, and the SDK rejects the summary without CaptureStatus and
    CurrentSamplingPercentage (and an empty one, when the config had no capture).
    """
    if not capture or not capture.get("DestinationS3Uri"):
        return None
    enabled = bool(capture.get("EnableCapture", True))
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": capture.get("InitialSamplingPercentage", 100),
        "DestinationS3Uri": capture["DestinationS3Uri"],
    }
    if capture.get("KmsKeyId"):
        summary["KmsKeyId"] = capture["KmsKeyId"]
    return summary


def describe_endpoint(self: SageMakerResponse) -> ActionResult:
    """DescribeEndpoint as AWS shapes it: a DataCaptureConfigSummary (or none), and variants
    with weights and DeployedImages (moto gives neither unless the request set a weight)."""
    backend = _backend(self)
    result = copy.deepcopy(backend.describe_endpoint(self._get_param("EndpointName")))
    config = backend.endpoint_configs.get(result.get("EndpointConfigName", ""))
    requested = {v["VariantName"]: v for v in (config.production_variants if config else [])}
    for variant in result.get("ProductionVariants") or []:
        wanted = requested.get(variant["VariantName"], {})
        weight = float(wanted.get("InitialVariantWeight", 1.0))
        variant.setdefault("CurrentWeight", weight)
        variant.setdefault("DesiredWeight", weight)
        images = _model_images(backend, wanted.get("ModelName"))
        if images and "DeployedImages" not in variant:
            variant["DeployedImages"] = [
                {
                    "SpecifiedImage": image,
                    "ResolvedImage": _resolved_image(image),
                    "ResolutionTime": result["LastModifiedTime"],
                }
                for image in images
            ]
    result["DataCaptureConfig"] = _capture_summary(result.get("DataCaptureConfig"))
    return ActionResult(_pruned(result))


def describe_endpoint_config(self: SageMakerResponse) -> ActionResult:
    """DescribeEndpointConfig without an empty DataCaptureConfig (moto stores `{}` when the
    request had none) and with AWS's defaults filled (variant weight 1, capture enabled)."""
    backend = _backend(self)
    result = copy.deepcopy(backend.describe_endpoint_config(self._get_param("EndpointConfigName")))
    for variant in result.get("ProductionVariants") or []:
        variant.setdefault("InitialVariantWeight", 1.0)
    if result.get("DataCaptureConfig"):
        result["DataCaptureConfig"].setdefault("EnableCapture", True)
    return ActionResult(_pruned(result))


def describe_model(self: SageMakerResponse) -> ActionResult:
    """DescribeModel without `VpcConfig: {}` / `PrimaryContainer: {}` (the SDK requires
    Subnets and SecurityGroupIds in any VpcConfig it is given)."""
    model = _backend(self).describe_model(self._get_param("ModelName"))
    return ActionResult(_pruned(copy.deepcopy(model.response_object)))


def describe_training_job(self: SageMakerResponse) -> ActionResult:
    """DescribeTrainingJob without empty structures (e.g. a `{}` config moto echoes back)."""
    name = self._get_param("TrainingJobName")
    return ActionResult(_pruned(copy.deepcopy(_backend(self).describe_training_job(name))))


def describe_model_package(self: SageMakerResponse) -> ActionResult:
    """DescribeModelPackage with ModelPackageName, which the API requires and AWS sets to the
    group's name for a versioned package; moto drops it."""
    package = _backend(self).describe_model_package(self._get_param("ModelPackageName"))
    result = copy.deepcopy(package.gen_response_object())
    result.setdefault("ModelPackageName", package.model_package_name)
    return ActionResult(_pruned(result))


def create_model(self: SageMakerResponse) -> ActionResult:
    """CreateModel that keeps EnableNetworkIsolation: moto drops it, so DescribeModel would
    hide a security setting the stack and the policy pack rely on."""
    model = _backend(self).create_model(
        model_name=self._get_param("ModelName"),
        execution_role_arn=self._get_param("ExecutionRoleArn"),
        primary_container=self._get_param("PrimaryContainer"),
        vpc_config=self._get_param("VpcConfig"),
        containers=self._get_param("Containers"),
        tags=self._get_param("Tags"),
    )
    model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
    return ActionResult(model.response_create)


def delete_model_package(self: SageMakerResponse) -> EmptyResult:
    """DeleteModelPackage (moto has none): the registry's packages must be removable."""
    backend = _backend(self)
    name = self._get_param("ModelPackageName")
    package = backend.describe_model_package(name)
    del backend.model_packages[package.arn]
    for alias, target in list(backend.model_package_name_mapping.items()):
        if target == package.arn:
            del backend.model_package_name_mapping[alias]
    return EmptyResult()


def delete_model_package_group(self: SageMakerResponse) -> EmptyResult:
    """DeleteModelPackageGroup (moto has none). As in AWS, a group that still holds
    versioned packages is refused; delete the packages first."""
    backend = _backend(self)
    name = self._get_param("ModelPackageGroupName")
    backend.describe_model_package_group(name)
    held = [p for p in backend.model_packages.values() if p.model_package_group_name == name]
    if held:
        raise ValidationError(
            f"Model package group {name} has {len(held)} model packages; delete them first"
        )
    del backend.model_package_groups[name]
    return EmptyResult()


_RESPONSE_METHODS: dict[str, Callable[..., ActionResult]] = {
    "create_model": create_model,
    "delete_model_package": delete_model_package,
    "delete_model_package_group": delete_model_package_group,
    "update_endpoint": update_endpoint,
    "stop_training_job": stop_training_job,
    "create_monitoring_schedule": create_monitoring_schedule,
    "describe_monitoring_schedule": describe_monitoring_schedule,
    "list_monitoring_schedules": list_monitoring_schedules,
    "update_monitoring_schedule": update_monitoring_schedule,
    "delete_monitoring_schedule": delete_monitoring_schedule,
    "start_monitoring_schedule": start_monitoring_schedule,
    "stop_monitoring_schedule": stop_monitoring_schedule,
    "describe_endpoint": describe_endpoint,
    "describe_endpoint_config": describe_endpoint_config,
    "describe_model": describe_model,
    "describe_training_job": describe_training_job,
    "describe_model_package": describe_model_package,
}


def install() -> list[str]:
    """Add the fills to moto's SageMaker handler and backend; return the operation names."""
    for name, method in _RESPONSE_METHODS.items():
        setattr(SageMakerResponse, name, method)
    attribute = "_get_resource_from_arn"
    setattr(
        SageMakerModelBackend,
        attribute,
        _get_resource_from_arn(getattr(SageMakerModelBackend, attribute)),
    )
    return sorted(_RESPONSE_METHODS)
