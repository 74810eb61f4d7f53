"""Cost policies: SageMaker instance types on an allowlist, instance counts under a cap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import MlopsResourcePolicy, Subject, schema
from ._values import UNKNOWN, get, items, number

ENDPOINT_CONFIG_TYPE: Final = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
NOTEBOOK_TYPE: Final = "aws:sagemaker/notebookInstance:NotebookInstance"
TRAINING_JOB_TYPE: Final = "aws:sagemaker/trainingJob:TrainingJob"
TUNING_JOB_TYPE: Final = "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob"
DATA_QUALITY_TYPE: Final = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
SCALING_TARGET_TYPE: Final = "aws:appautoscaling/target:Target"
INSTANCE_TYPES: Final = (
    ENDPOINT_CONFIG_TYPE,
    NOTEBOOK_TYPE,
    TRAINING_JOB_TYPE,
    TUNING_JOB_TYPE,
    DATA_QUALITY_TYPE,
)
DEFAULT_ALLOWED_INSTANCE_TYPES: Final = (
    "ml.t3.medium",
    "ml.t3.large",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.c5.large",
    "ml.c5.xlarge",
    "ml.c5.2xlarge",
    "ml.g4dn.xlarge",
    "ml.g5.xlarge",
)
DEFAULT_MAX_INSTANCE_COUNT: Final = 4

Field = tuple[str, Any]  # (where, value)


def _variants(props: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, label in (
        ("productionVariants", "production_variants"),
        ("shadowProductionVariants", "shadow_production_variants"),
    ):
        for index, variant in enumerate(items(get(props, key))):
            yield f"{label}[{index}]", variant


def _training_resource_configs(subject: Subject) -> Iterator[tuple[str, Any]]:
    if subject.type == TRAINING_JOB_TYPE:
        yield "resource_config", get(subject.props, "resourceConfig")
        return
    definitions = [("training_job_definition", get(subject.props, "trainingJobDefinition"))]
    definitions += [
        (f"training_job_definitions[{i}]", d)
        for i, d in enumerate(items(get(subject.props, "trainingJobDefinitions")))
    ]
    for where, definition in definitions:
        yield f"{where}.resource_config", get(definition, "resourceConfig")
        tuning = get(definition, "hyperParameterTuningResourceConfig")
        yield f"{where}.hyper_parameter_tuning_resource_config", tuning
        for i, config in enumerate(items(get(tuning, "instanceConfigs"))):
            yield f"{where}.hyper_parameter_tuning_resource_config.instance_configs[{i}]", config


def _compute_blocks(subject: Subject) -> Iterator[tuple[str, Any]]:
    """Blocks that carry instanceType/instanceCount, with a human-readable location."""
    if subject.type == ENDPOINT_CONFIG_TYPE:
        yield from _variants(subject.props)
    elif subject.type == NOTEBOOK_TYPE:
        yield "", subject.props
    elif subject.type == DATA_QUALITY_TYPE:
        yield "job_resources.cluster_config", get(subject.props, "jobResources", "clusterConfig")
    else:
        for where, block in _training_resource_configs(subject):
            if block is None:
                continue
            yield where, block
            for index, group in enumerate(items(get(block, "instanceGroups"))):
                yield f"{where}.instance_groups[{index}]", group


def _instance_types(subject: Subject) -> list[Field]:
    return [(where, get(block, "instanceType")) for where, block in _compute_blocks(subject)]


def _instance_counts(subject: Subject) -> list[Field]:
    if subject.type == SCALING_TARGET_TYPE:
        if get(subject.props, "serviceNamespace") != "sagemaker":
            return []
        return [("max_capacity", get(subject.props, "maxCapacity"))]
    counts: list[Field] = []
    for where, block in _compute_blocks(subject):
        counts.append((f"{where}.initial_instance_count", get(block, "initialInstanceCount")))
        counts.append((f"{where}.instance_count", get(block, "instanceCount")))
        scaling = get(block, "managedInstanceScaling", "maxInstanceCount")
        counts.append((f"{where}.managed_instance_scaling.max_instance_count", scaling))
    return counts


def _name(subject: Subject, where: str) -> str:
    kind = subject.type.rsplit(":", 1)[-1]
    return f"{kind} '{subject.name}'" + (f" {where}" if where else "")


def _check_instance_types(subject: Subject) -> Iterator[str]:
    allowed = list(subject.config.get("allowedInstanceTypes", DEFAULT_ALLOWED_INSTANCE_TYPES))
    for where, value in _instance_types(subject):
        if isinstance(value, str) and value not in allowed:
            yield (
                f"{_name(subject, where)} uses instance type '{value}', which is not in "
                f"allowedInstanceTypes ({', '.join(allowed)}). Pick an allowed type or add "
                "this one to the environment's policy config after a cost review."
            )


def _check_instance_counts(subject: Subject) -> Iterator[str]:
    cap = number(subject.config.get("maxInstanceCount")) or DEFAULT_MAX_INSTANCE_COUNT
    for where, value in _instance_counts(subject):
        count = number(value)
        if value is not UNKNOWN and count is not None and count > cap:
            yield (
                f"{_name(subject, where)} asks for {int(count)} instances, above the cap of "
                f"{int(cap)}. Lower it or raise maxInstanceCount in the environment's policy "
                "config."
            )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="sagemaker-instance-type-allowed",
        description=(
            "Checks that SageMaker endpoints, notebooks, training, tuning and monitoring jobs "
            "use instance types from allowedInstanceTypes."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=INSTANCE_TYPES,
        check=_check_instance_types,
        remediation="Use an instance type from allowedInstanceTypes, or extend the list.",
        config_schema=schema(
            {
                "allowedInstanceTypes": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^ml\\.[a-z0-9-]+\\.[a-z0-9]+$"},
                    "minItems": 1,
                    "uniqueItems": True,
                    "description": "SageMaker instance types the environment may use.",
                    "default": list(DEFAULT_ALLOWED_INSTANCE_TYPES),
                }
            }
        ),
    ),
    MlopsResourcePolicy(
        name="sagemaker-instance-count-capped",
        description=(
            "Checks that SageMaker instance counts (endpoint variants, managed scaling, "
            "training, tuning, monitoring, autoscaling max capacity) stay <= maxInstanceCount."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(*INSTANCE_TYPES, SCALING_TARGET_TYPE),
        check=_check_instance_counts,
        remediation="Lower the instance count, or raise maxInstanceCount for the environment.",
        config_schema=schema(
            {
                "maxInstanceCount": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Largest instance count any SageMaker resource may request.",
                    "default": DEFAULT_MAX_INSTANCE_COUNT,
                }
            }
        ),
    ),
]
