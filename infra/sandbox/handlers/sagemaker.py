"""SageMaker: the model registry's package group, models, endpoint configurations, endpoints.

Models and endpoint configurations are immutable in SageMaker: any change makes a new one
(auto-named when the program gives no name, so the new one is created before the old one
goes), and the endpoint moves to a new configuration in place with UpdateEndpoint, which
is how a deployment happens. Nested inputs are mapped member by member to the API's shapes
by the tables below; members left out of the inputs are left out of the request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from infra.sandbox.handlers.base import (
    Context,
    Fields,
    Handler,
    gone_is_fine,
    mapped,
    mapped_each,
    mapped_first,
    mapped_one,
    not_found,
    physical_name,
    retag,
    tags_list,
)

log = logging.getLogger(__name__)


def _gone(exc: Exception) -> bool:
    """Whether SageMaker says the thing does not exist. It answers ValidationException for
    that and for real refusals alike, so the message decides (as the provider checks it)."""
    message = str(exc).lower()
    return not_found(exc) and any(
        marker in message for marker in ("could not find", "does not exist", "not found")
    )


def _retag(ctx: Context, arn: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    sagemaker = ctx.client("sagemaker")
    retag(
        old,
        new,
        lambda tags: sagemaker.add_tags(ResourceArn=arn, Tags=tags_list(tags)),
        lambda keys: sagemaker.delete_tags(ResourceArn=arn, TagKeys=keys),
    )


def _with_tags(request: dict[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    if inputs.get("tags"):
        request["Tags"] = tags_list(inputs["tags"])
    return request


# --- Shapes ---------------------------------------------------------------------------------

_S3_MODEL_DATA: Fields = {
    "s3Uri": ("S3Uri", str),
    "s3DataType": ("S3DataType", str),
    "compressionType": ("CompressionType", str),
    "modelAccessConfig": ("ModelAccessConfig", mapped_one({"acceptEula": ("AcceptEula", bool)})),
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
        mapped_one(
            {
                "repositoryAccessMode": ("RepositoryAccessMode", str),
                "repositoryAuthConfig": (
                    "RepositoryAuthConfig",
                    mapped_one(
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
        mapped_one({"s3DataSources": ("S3DataSource", mapped_first(_S3_MODEL_DATA))}),
    ),
    "additionalModelDataSources": (
        "AdditionalModelDataSources",
        mapped_each(
            {
                "channelName": ("ChannelName", str),
                "s3DataSources": ("S3DataSource", mapped_first(_S3_MODEL_DATA)),
            }
        ),
    ),
    "multiModelConfig": (
        "MultiModelConfig",
        mapped_one({"modelCacheSetting": ("ModelCacheSetting", str)}),
    ),
}
_MODEL: Fields = {
    "executionRoleArn": ("ExecutionRoleArn", str),
    "primaryContainer": ("PrimaryContainer", mapped_one(_CONTAINER)),
    "containers": ("Containers", mapped_each(_CONTAINER)),
    "inferenceExecutionConfig": ("InferenceExecutionConfig", mapped_one({"mode": ("Mode", str)})),
    "vpcConfig": (
        "VpcConfig",
        mapped_one({"subnets": ("Subnets", list), "securityGroupIds": ("SecurityGroupIds", list)}),
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
        mapped_one({"destinationS3Uri": ("DestinationS3Uri", str), "kmsKeyId": ("KmsKeyId", str)}),
    ),
    "serverlessConfig": (
        "ServerlessConfig",
        mapped_one(
            {
                "maxConcurrency": ("MaxConcurrency", int),
                "memorySizeInMb": ("MemorySizeInMB", int),
                "provisionedConcurrency": ("ProvisionedConcurrency", int),
            }
        ),
    ),
    "managedInstanceScaling": (
        "ManagedInstanceScaling",
        mapped_one(
            {
                "status": ("Status", str),
                "minInstanceCount": ("MinInstanceCount", int),
                "maxInstanceCount": ("MaxInstanceCount", int),
            }
        ),
    ),
    "routingConfigs": (
        "RoutingConfig",
        mapped_first({"routingStrategy": ("RoutingStrategy", str)}),
    ),
    "capacityReservationConfig": (
        "CapacityReservationConfig",
        mapped_one(
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
        {"VariantName": f"variant-{number}", **mapped(value, _VARIANT)}
        for number, value in enumerate(values, start=1)
    ]


_DATA_CAPTURE: Fields = {
    "enableCapture": ("EnableCapture", bool),
    "initialSamplingPercentage": ("InitialSamplingPercentage", int),
    "destinationS3Uri": ("DestinationS3Uri", str),
    "kmsKeyId": ("KmsKeyId", str),
    "captureOptions": ("CaptureOptions", mapped_each({"captureMode": ("CaptureMode", str)})),
    "captureContentTypeHeader": (
        "CaptureContentTypeHeader",
        mapped_one(
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
        mapped_one(
            {"maxConcurrentInvocationsPerInstance": ("MaxConcurrentInvocationsPerInstance", int)}
        ),
    ),
    "outputConfig": (
        "OutputConfig",
        mapped_one(
            {
                "s3OutputPath": ("S3OutputPath", str),
                "s3FailurePath": ("S3FailurePath", str),
                "kmsKeyId": ("KmsKeyId", str),
                "notificationConfig": (
                    "NotificationConfig",
                    mapped_one(
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
    "dataCaptureConfig": ("DataCaptureConfig", mapped_one(_DATA_CAPTURE)),
    "kmsKeyArn": ("KmsKeyId", str),  # encrypts the ML storage volumes of the instances
    "asyncInferenceConfig": ("AsyncInferenceConfig", mapped_one(_ASYNC_INFERENCE)),
    "executionRoleArn": ("ExecutionRoleArn", str),
}

_CAPACITY_SIZE: Fields = {"type": ("Type", str), "value": ("Value", int)}
_DEPLOYMENT: Fields = {
    "blueGreenUpdatePolicy": (
        "BlueGreenUpdatePolicy",
        mapped_one(
            {
                "trafficRoutingConfiguration": (
                    "TrafficRoutingConfiguration",
                    mapped_one(
                        {
                            "type": ("Type", str),
                            "waitIntervalInSeconds": ("WaitIntervalInSeconds", int),
                            "canarySize": ("CanarySize", mapped_one(_CAPACITY_SIZE)),
                            "linearStepSize": ("LinearStepSize", mapped_one(_CAPACITY_SIZE)),
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
        mapped_one(
            {
                "maximumBatchSize": ("MaximumBatchSize", mapped_one(_CAPACITY_SIZE)),
                "waitIntervalInSeconds": ("WaitIntervalInSeconds", int),
                "maximumExecutionTimeoutInSeconds": ("MaximumExecutionTimeoutInSeconds", int),
                "rollbackMaximumBatchSize": (
                    "RollbackMaximumBatchSize",
                    mapped_one(_CAPACITY_SIZE),
                ),
            }
        ),
    ),
    "autoRollbackConfiguration": (
        "AutoRollbackConfiguration",
        mapped_one({"alarms": ("Alarms", mapped_each({"alarmName": ("AlarmName", str)}))}),
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
                with gone_is_fine(_gone):
                    sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])
        with gone_is_fine(_gone):
            sagemaker.delete_model_package_group(ModelPackageGroupName=rid)


class Model(Handler):
    """A model; its id is the name (auto-named when absent). Immutable: any change replaces."""

    type_token = "aws:sagemaker/model:Model"

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = inputs.get("name") or ctx.auto_name(max_length=63)
        request = {"ModelName": name, **mapped(inputs, _MODEL)}
        arn = ctx.client("sagemaker").create_model(**_with_tags(request, inputs))["ModelArn"]
        return name, {"name": name, "arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine(_gone):
            ctx.client("sagemaker").delete_model(ModelName=rid)


class EndpointConfiguration(Handler):
    """An endpoint configuration; its id is the name (auto-named when absent). Immutable:
    any change replaces it, and the endpoint then updates to the new one."""

    type_token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = physical_name(ctx, inputs, max_length=63)
        request = {"EndpointConfigName": name, **mapped(inputs, _ENDPOINT_CONFIG)}
        answer = ctx.client("sagemaker").create_endpoint_config(**_with_tags(request, inputs))
        arn = answer["EndpointConfigArn"]
        return name, {"name": name, "arn": arn, "tagsAll": dict(inputs.get("tags") or {})}

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine(_gone):
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
            request["DeploymentConfig"] = mapped(inputs["deploymentConfig"], _DEPLOYMENT)
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
                request["DeploymentConfig"] = mapped(new_inputs["deploymentConfig"], _DEPLOYMENT)
            ctx.client("sagemaker").update_endpoint(**request)
        _retag(ctx, old_outputs["arn"], old_inputs, new_inputs)
        return {
            "name": rid,
            "arn": old_outputs["arn"],
            "tagsAll": dict(new_inputs.get("tags") or {}),
        }

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        with gone_is_fine(_gone):
            ctx.client("sagemaker").delete_endpoint(EndpointName=rid)


HANDLERS: list[Handler] = [ModelPackageGroup(), Model(), EndpointConfiguration(), Endpoint()]
