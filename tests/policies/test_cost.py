"""Cost policies with their configurable allowlist and cap."""

from __future__ import annotations

from policies.offline import UNKNOWN, resource

CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
TRAINING = "aws:sagemaker/trainingJob:TrainingJob"
TUNING = "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
TARGET = "aws:appautoscaling/target:Target"


def _endpoint_config(instance_type="ml.m5.large", count=1.0, **variant):
    return resource(
        CONFIG,
        "serving",
        {
            "productionVariants": [
                {
                    "variantName": "main",
                    "modelName": "m",
                    "instanceType": instance_type,
                    "initialInstanceCount": count,
                    **variant,
                }
            ]
        },
    )


# --- sagemaker-instance-type-allowed --------------------------------------------------


def test_instance_type_fails_outside_default_allowlist(assert_violation):
    assert_violation(
        "sagemaker-instance-type-allowed",
        [_endpoint_config("ml.p4d.24xlarge")],
        "'serving' production_variants[0] uses instance type 'ml.p4d.24xlarge'",
    )


def test_instance_type_uses_configured_allowlist(assert_violation, assert_passes):
    config = {"sagemaker-instance-type-allowed": {"allowedInstanceTypes": ["ml.t3.medium"]}}
    job = resource(
        TRAINING, "train", {"resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1.0}}
    )
    assert_violation(
        "sagemaker-instance-type-allowed",
        [job],
        "resource_config uses instance type 'ml.m5.large'",
        config,
    )
    notebook = resource(NOTEBOOK, "explore", {"instanceType": "ml.t3.medium"})
    assert_passes("sagemaker-instance-type-allowed", [notebook], config)


def test_instance_type_checks_tuning_instance_configs(assert_violation):
    tuning = resource(
        TUNING,
        "tune",
        {
            "trainingJobDefinition": {
                "hyperParameterTuningResourceConfig": {
                    "instanceConfigs": [{"instanceType": "ml.p3.16xlarge", "instanceCount": 1.0}]
                }
            }
        },
    )
    assert_violation(
        "sagemaker-instance-type-allowed",
        [tuning],
        "instance_configs[0] uses instance type 'ml.p3.16xlarge'",
    )


def test_instance_type_passes(assert_passes):
    assert_passes(
        "sagemaker-instance-type-allowed", [_endpoint_config(), _endpoint_config(UNKNOWN)]
    )


# --- sagemaker-instance-count-capped --------------------------------------------------


def test_instance_count_fails_above_default_cap(assert_violation):
    assert_violation(
        "sagemaker-instance-count-capped",
        [_endpoint_config(count=10.0)],
        "production_variants[0].initial_instance_count asks for 10 instances, above the cap of 4",
    )


def test_instance_count_checks_scaling_and_training(assert_violation):
    config = {"sagemaker-instance-count-capped": {"maxInstanceCount": 2}}
    scaled = _endpoint_config(
        managedInstanceScaling={
            "status": "ENABLED",
            "minInstanceCount": 1.0,
            "maxInstanceCount": 3.0,
        }
    )
    target = resource(
        TARGET,
        "churn-scaling",
        {
            "serviceNamespace": "sagemaker",
            "maxCapacity": 5.0,
            "minCapacity": 1.0,
            "resourceId": "endpoint/churn/variant/main",
            "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
        },
    )
    job = resource(
        TRAINING,
        "train",
        {
            "resourceConfig": {
                "instanceGroups": [
                    {"instanceGroupName": "g", "instanceType": "ml.m5.large", "instanceCount": 3.0}
                ]
            }
        },
    )
    assert_violation(
        "sagemaker-instance-count-capped",
        [scaled],
        "managed_instance_scaling.max_instance_count asks for 3",
        config,
    )
    assert_violation(
        "sagemaker-instance-count-capped",
        [target],
        "Target 'churn-scaling' max_capacity asks for 5",
        config,
    )
    assert_violation(
        "sagemaker-instance-count-capped",
        [job],
        "instance_groups[0].instance_count asks for 3",
        config,
    )


def test_instance_count_passes(assert_passes):
    other_service = resource(TARGET, "ecs", {"serviceNamespace": "ecs", "maxCapacity": 50.0})
    assert_passes(
        "sagemaker-instance-count-capped",
        [_endpoint_config(count=4.0), _endpoint_config(count=UNKNOWN), other_service],
    )
