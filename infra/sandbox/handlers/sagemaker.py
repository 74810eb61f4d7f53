"""SageMaker: the model registry's package group, models, endpoint configurations, endpoints.

Models and endpoint configurations are immutable in SageMaker: any change makes a new one
(auto-named when the program gives no name, so the new one is created before the old one
goes), and the endpoint moves to a new configuration in place with UpdateEndpoint, which
is how a deployment happens. Nested inputs are mapped member by member to the API's shapes
by the tables below; members left out of the inputs are left out of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from infra.sandbox.handlers.base import Context, Handler, not_found, tags_list

log = logging.getLogger(__name__)

Convert = Callable[[Any], Any]
Fields = Mapping[str, tuple[str, Convert]]


def _gone(exc: Exception) -> bool:
    """Whether SageMaker says the thing does not exist. It answers ValidationException for
    that and for real refusals alike, so the message decides (as the provider checks it)."""
    message = str(exc).lower()
    return not_found(exc) and any(
        marker in message for marker in ("could not find", "does not exist", "not found")
    )


@contextmanager
def _gone_is_fine() -> Iterator[None]:
    """Deleting what is already gone is not an error (a second `down`, a manual cleanup)."""
    try:
        yield
    except Exception as exc:
        if not _gone(exc):
            raise


def _mapped(source: Mapping[str, Any] | None, fields: Fields) -> dict[str, Any]:
    """The members of `source` that `fields` names, renamed and converted; absent ones
    (missing or None) are left out."""
    out: dict[str, Any] = {}
    for wire, (api, convert) in fields.items():
        value = (source or {}).get(wire)
        if value is not None:
            converted = convert(value)
            if converted is not None:
                out[api] = converted
    return out


def _one(fields: Fields) -> Convert:
    return lambda value: _mapped(value, fields)


def _each(fields: Fields) -> Convert:
    return lambda values: [_mapped(value, fields) for value in values]


def _first(fields: Fields) -> Convert:
    """A provider list of at most one item that the API takes as a single structure."""
    return lambda values: _mapped(values[0], fields) if values else None


def _retag(ctx: Context, arn: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    sagemaker = ctx.client("sagemaker")
    old_tags, new_tags = dict(old.get("tags") or {}), dict(new.get("tags") or {})
    dropped = sorted(set(old_tags) - set(new_tags))
    if dropped:
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=dropped)
    changed = {k: v for k, v in new_tags.items() if old_tags.get(k) != v}
    if changed:
        sagemaker.add_tags(ResourceArn=arn, Tags=tags_list(changed))


def _with_tags(request: dict[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    if inputs.get("tags"):
        request["Tags"] = tags_list(inputs["tags"])
    return request


# --- Shapes ---------------------------------------------------------------------------------

_S3_MODEL_DATA: Fields = {
    "s3Uri": ("S3Uri", str),
    "s3DataType": ("S3DataType", str),
    "compressionType": ("CompressionType", str),
    "modelAccessConfig": ("ModelAccessConfig", _one({"acceptEula": ("AcceptEula", bool)})),
}
_CONTAINER: Fields = {
    "image": ("Image", str),
    "modelDataUrl": ("ModelDataUrl", str),
    "mode": ("Mode", str),
    "containerHostname": ("ContainerHostname", str),
    "environment": ("Environment", dict),
    "modelPackageName": ("ModelPackageName", str),
    "inferenceSpecificationName": ("InferenceSpecificationName", str),
    "imageConfig": (
        "ImageConfig",
        _one(
            {
                "repositoryAccessMode": ("RepositoryAccessMode", str),
                "repositoryAuthConfig": (
                    "RepositoryAuthConfig",
                    _one(
                        {
                            "repositoryCredentialsProviderArn": (
                                "RepositoryCredentialsProviderArn",
                                str,
                            )
                        }
                    ),
                ),
            }
        ),
    ),
    "modelDataSource": (
        "ModelDataSource",
        _one({"s3DataSources": ("S3DataSource", _first(_S3_MODEL_DATA))}),
    ),
    "additionalModelDataSources": (
        "AdditionalModelDataSources",
        _each(
            {
                "channelName": ("ChannelName", str),
                "s3DataSources": ("S3DataSource", _first(_S3_MODEL_DATA)),
            }
        ),
    ),
    "multiModelConfig": (
        "MultiModelConfig",
        _one({"modelCacheSetting": ("ModelCacheSetting", str)}),
    ),
}
_MODEL: Fields = {
    "executionRoleArn": ("ExecutionRoleArn", str),
    "primaryContainer": ("PrimaryContainer", _one(_CONTAINER)),
    "containers": ("Containers", _each(_CONTAINER)),
    "inferenceExecutionConfig": ("InferenceExecutionConfig", _one({"mode": ("Mode", str)})),
    "vpcConfig": (
        "VpcConfig",
        _one({"subnets": ("Subnets", list), "securityGroupIds": ("SecurityGroupIds", list)}),
    ),
    "enableNetworkIsolation": ("EnableNetworkIsolation", bool),
}

_VARIANT: Fields = {
    "variantName": ("VariantName", str),
    "modelName": ("ModelName", str),
    "initialInstanceCount": ("InitialInstanceCount", int),
    "instanceType": ("InstanceType", str),
    "initialVariantWeight": ("InitialVariantWeight", float),
    "acceleratorType": ("AcceleratorType", str),
    "containerStartupHealthCheckTimeoutInSeconds": (
        "ContainerStartupHealthCheckTimeoutInSeconds",
        int,
    ),
    "modelDataDownloadTimeoutInSeconds": ("ModelDataDownloadTimeoutInSeconds", int),
    "volumeSizeInGb": ("VolumeSizeInGB", int),
    "enableSsmAccess": ("EnableSSMAccess", bool),
    "inferenceAmiVersion": ("InferenceAmiVersion", str),
    "coreDumpConfig": (
        "CoreDumpConfig",
        _one({"destinationS3Uri": ("DestinationS3Uri", str), "kmsKeyId": ("KmsKeyId", str)}),
    ),
    "serverlessConfig": (
        "ServerlessConfig",
        _one(
            {
                "maxConcurrency": ("MaxConcurrency", int),
                "memorySizeInMb": ("MemorySizeInMB", int),
                "provisionedConcurrency": ("ProvisionedConcurrency", int),
            }
        ),
    ),
    "managedInstanceScaling": (
        "ManagedInstanceScaling",
        _one(
            {
                "status": ("Status", str),
                "minInstanceCount": ("MinInstanceCount", int),
                "maxInstanceCount": ("MaxInstanceCount", int),
            }
        ),
    ),
    "routingConfigs": ("RoutingConfig", _first({"routingStrategy": ("RoutingStrategy", str)})),
    "capacityReservationConfig": (
        "CapacityReservationConfig",
        _one(
            {
                "capacityReservationPreference": ("CapacityReservationPreference", str),
                "mlReservationArn": ("MlReservationArn", str),
            }
        ),
    ),
}


def _variants(values: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    # The API requires a variant name; the provider generates one when none is given.
    return [
        {"VariantName": f"variant-{number}", **_mapped(value, _VARIANT)}
        for number, value in enumerate(values, start=1)
    ]


_DATA_CAPTURE: Fields = {
    "enableCapture": ("EnableCapture", bool),
    "initialSamplingPercentage": ("InitialSamplingPercentage", int),
    "destinationS3Uri": ("DestinationS3Uri", str),
    "kmsKeyId": ("KmsKeyId", str),
    "captureOptions": ("CaptureOptions", _each({"captureMode": ("CaptureMode", str)})),
    "captureContentTypeHeader": (
        "CaptureContentTypeHeader",
        _one(
            {
                "csvContentTypes": ("CsvContentTypes", list),
                "jsonContentTypes": ("JsonContentTypes", list),
            }
        ),
    ),
}
_ASYNC_INFERENCE: Fields = {
    "clientConfig": (
        "ClientConfig",
        _one({"maxConcurrentInvocationsPerInstance": ("MaxConcurrentInvocationsPerInstance", int)}),
    ),
    "outputConfig": (
        "OutputConfig",
        _one(
            {
                "s3OutputPath": ("S3OutputPath", str),
                "s3FailurePath": ("S3FailurePath", str),
                "kmsKeyId": ("KmsKeyId", str),
                "notificationConfig": (
                    "NotificationConfig",
                    _one(
                        {
                            "successTopic": ("SuccessTopic", str),
                            "errorTopic": ("ErrorTopic", str),
                            "includeInferenceResponseIns": ("IncludeInferenceResponseIn", list),
                        }
                    ),
                ),
            }
        ),
    ),
}
_ENDPOINT_CONFIG: Fields = {
    "productionVariants": ("ProductionVariants", _variants),
    "shadowProductionVariants": ("ShadowProductionVariants", _variants),
    "dataCaptureConfig": ("DataCaptureConfig", _one(_DATA_CAPTURE)),
    "kmsKeyArn": ("KmsKeyId", str),  # encrypts the ML storage volumes of the instances
    "asyncInferenceConfig": ("AsyncInferenceConfig", _one(_ASYNC_INFERENCE)),
    "executionRoleArn": ("ExecutionRoleArn", str),
}

_CAPACITY_SIZE: Fields = {"type": ("Type", str), "value": ("Value", int)}
_DEPLOYMENT: Fields = {
    "blueGreenUpdatePolicy": (
        "BlueGreenUpdatePolicy",
        _one(
            {
                "trafficRoutingConfiguration": (
                    "TrafficRoutingConfiguration",
                    _one(
                        {
                            "type": ("Type", str),
                            "waitIntervalInSeconds": ("WaitIntervalInSeconds", int),
                            "canarySize": ("CanarySize", _one(_CAPACITY_SIZE)),
                            "linearStepSize": ("LinearStepSize", _one(_CAPACITY_SIZE)),
                        }
                    ),
                ),
                "terminationWaitInSeconds": ("TerminationWaitInSeconds", int),
                "maximumExecutionTimeoutInSeconds": ("MaximumExecutionTimeoutInSeconds", int),
            }
        ),
    ),
    "rollingUpdatePolicy": (
        "RollingUpdatePolicy",
        _one(
            {
                "maximumBatchSize": ("MaximumBatchSize", _one(_CAPACITY_SIZE)),
                "waitIntervalInSeconds": ("WaitIntervalInSeconds", int),
                "maximumExecutionTimeoutInSeconds": ("MaximumExecutionTimeoutInSeconds", int),
                "rollbackMaximumBatchSize": ("RollbackMaximumBatchSize", _one(_CAPACITY_SIZE)),
            }
        ),
    ),
    "autoRollbackConfiguration": (
        "AutoRollbackConfiguration",
        _one({"alarms": ("Alarms", _each({"alarmName": ("AlarmName", str)}))}),
    ),
}


# --- Handlers -------------------------------------------------------------------------------


class ModelPackageGroup(Handler):
    """The model registry's group; its id is the group name. Name and description cannot
    change in SageMaker (a change replaces the group); tags update."""

    type_token = "aws:sagemaker/modelPackageGroup:ModelPackageGroup"
    id_is_name = True
    replace_on = frozenset({"modelPackageGroupName", "modelPackageGroupDescription"})
    name_keys = ("modelPackageGroupName",)

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = inputs["modelPackageGroupName"]
        request: dict[str, Any] = {"ModelPackageGroupName": name}
        if inputs.get("modelPackageGroupDescription"):
            request["ModelPackageGroupDescription"] = inputs["modelPackageGroupDescription"]
        answer = ctx.client("sagemaker").create_model_package_group(**_with_tags(request, inputs))
        arn = answer["ModelPackageGroupArn"]
        return name, {"arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        _retag(ctx, old_outputs["arn"], old_inputs, new_inputs)
        return {"arn": old_outputs["arn"], "tagsAll": dict(new_inputs.get("tags") or {})}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        sagemaker = ctx.client("sagemaker")
        # An ephemeral stack takes its registry's packages with it (ml/ registered them in
        # this group); AWS itself refuses to delete a group that still holds packages.
        paginator = sagemaker.get_paginator("list_model_packages")
        for page in paginator.paginate(ModelPackageGroupName=rid):
            for package in page.get("ModelPackageSummaryList", []):
                with _gone_is_fine():
                    sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])
        with _gone_is_fine():
            sagemaker.delete_model_package_group(ModelPackageGroupName=rid)


class Model(Handler):
    """A model; its id is the name (auto-named when absent). Immutable: any change replaces."""

    type_token = "aws:sagemaker/model:Model"

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = inputs.get("name") or ctx.auto_name(max_length=63)
        request = {"ModelName": name, **_mapped(inputs, _MODEL)}
        arn = ctx.client("sagemaker").create_model(**_with_tags(request, inputs))["ModelArn"]
        return name, {"name": name, "arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with _gone_is_fine():
            ctx.client("sagemaker").delete_model(ModelName=rid)


class EndpointConfiguration(Handler):
    """An endpoint configuration; its id is the name (auto-named when absent). Immutable:
    any change replaces it, and the endpoint then updates to the new one."""

    type_token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        if inputs.get("name"):
            name = str(inputs["name"])
        elif inputs.get("namePrefix"):
            name = f"{inputs['namePrefix']}{ctx.auto_name()[-7:]}"
        else:
            name = ctx.auto_name(max_length=63)
        request = {"EndpointConfigName": name, **_mapped(inputs, _ENDPOINT_CONFIG)}
        answer = ctx.client("sagemaker").create_endpoint_config(**_with_tags(request, inputs))
        arn = answer["EndpointConfigArn"]
        return name, {"name": name, "arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with _gone_is_fine():
            ctx.client("sagemaker").delete_endpoint_config(EndpointConfigName=rid)


class Endpoint(Handler):
    """An endpoint; its id is the name. A new configuration or deployment config is an
    UpdateEndpoint (a blue/green or rolling deployment in AWS, with the deployment config
    passed along, as the provider does); only a new name replaces the endpoint."""

    type_token = "aws:sagemaker/endpoint:Endpoint"
    id_is_name = True
    replace_on = frozenset({"name"})

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = inputs.get("name") or ctx.auto_name(max_length=63)
        request: dict[str, Any] = {
            "EndpointName": name,
            "EndpointConfigName": inputs["endpointConfigName"],
        }
        if inputs.get("deploymentConfig"):
            request["DeploymentConfig"] = _mapped(inputs["deploymentConfig"], _DEPLOYMENT)
        arn = ctx.client("sagemaker").create_endpoint(**_with_tags(request, inputs))["EndpointArn"]
        return name, {"name": name, "arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        moved = any(
            old_inputs.get(key) != new_inputs.get(key)
            for key in ("endpointConfigName", "deploymentConfig")
        )
        if moved:
            request: dict[str, Any] = {
                "EndpointName": rid,
                "EndpointConfigName": new_inputs["endpointConfigName"],
            }
            if new_inputs.get("deploymentConfig"):
                request["DeploymentConfig"] = _mapped(new_inputs["deploymentConfig"], _DEPLOYMENT)
            ctx.client("sagemaker").update_endpoint(**request)
        _retag(ctx, old_outputs["arn"], old_inputs, new_inputs)
        return {
            "name": rid,
            "arn": old_outputs["arn"],
            "tagsAll": dict(new_inputs.get("tags") or {}),
        }

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with _gone_is_fine():
            ctx.client("sagemaker").delete_endpoint(EndpointName=rid)


HANDLERS: list[Handler] = [ModelPackageGroup(), Model(), EndpointConfiguration(), Endpoint()]
