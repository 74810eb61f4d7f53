"""SageMaker policies."""

from __future__ import annotations

from policies.offline import UNKNOWN, resource

CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"
TRAINING = "aws:sagemaker/trainingJob:TrainingJob"
TUNING = "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
VARIANT = {
    "variantName": "main",
    "modelName": "model",
    "instanceType": "ml.m5.large",
    "initialInstanceCount": 1.0,
}
CAPTURE = {
    "enableCapture": True,
    "initialSamplingPercentage": 20.0,
    "destinationS3Uri": "s3://capture/x",
    "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}],
}
VPC = {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}


def _config(**inputs):
    return resource(CONFIG, "serving", {"productionVariants": [VARIANT], **inputs})


# --- endpoint configuration -----------------------------------------------------------


def test_endpoint_kms_fails_without_key(assert_violation):
    assert_violation(
        "sagemaker-endpoint-config-kms",
        [_config()],
        "endpoint configuration 'serving' does not encrypt",
    )


def test_endpoint_kms_passes_with_key_or_serverless(assert_passes):
    serverless = resource(
        CONFIG,
        "sls",
        {
            "productionVariants": [
                {
                    "variantName": "main",
                    "modelName": "m",
                    "serverlessConfig": {"maxConcurrency": 5.0, "memorySizeInMb": 2048.0},
                }
            ]
        },
    )
    assert_passes("sagemaker-endpoint-config-kms", [_config(kmsKeyArn=UNKNOWN), serverless])


def test_data_capture_fails_without_config(assert_violation):
    assert_violation("sagemaker-endpoint-data-capture", [_config()], "has no data capture")


def test_data_capture_fails_when_disabled_or_zero(assert_violation):
    stack = [
        _config(
            dataCaptureConfig={**CAPTURE, "enableCapture": False, "initialSamplingPercentage": 0.0}
        )
    ]
    assert_violation("sagemaker-endpoint-data-capture", stack, "enable_capture=False")
    assert_violation("sagemaker-endpoint-data-capture", stack, "samples 0% of requests")


def test_data_capture_passes(assert_passes):
    no_flag = {k: v for k, v in CAPTURE.items() if k != "enableCapture"}  # AWS default is enabled
    assert_passes(
        "sagemaker-endpoint-data-capture",
        [_config(dataCaptureConfig=CAPTURE), resource(CONFIG, "b", {"dataCaptureConfig": no_flag})],
    )


# --- models ---------------------------------------------------------------------------


def test_model_isolation_fails(assert_violation):
    model = resource(
        MODEL, "churn", {"executionRoleArn": "arn", "primaryContainer": {"image": "img"}}
    )
    assert_violation(
        "sagemaker-model-network-isolation", [model], "model 'churn' lets its inference container"
    )


def test_model_isolation_passes(assert_passes):
    assert_passes(
        "sagemaker-model-network-isolation",
        [resource(MODEL, "churn", {"enableNetworkIsolation": True})],
    )


def test_model_vpc_fails_without_config_or_subnets(assert_violation):
    assert_violation("sagemaker-model-vpc", [resource(MODEL, "churn", {})], "runs outside a VPC")
    empty = resource(MODEL, "churn", {"vpcConfig": {"subnets": [], "securityGroupIds": ["sg-1"]}})
    assert_violation("sagemaker-model-vpc", [empty], "vpc_config without subnets")


def test_model_vpc_passes(assert_passes):
    unknown_ids = {"subnets": UNKNOWN, "securityGroupIds": [UNKNOWN]}
    assert_passes(
        "sagemaker-model-vpc",
        [
            resource(MODEL, "a", {"vpcConfig": VPC}),
            resource(MODEL, "b", {"vpcConfig": unknown_ids}),
        ],
    )


# --- training -------------------------------------------------------------------------

SECURE_TRAINING = {
    "enableNetworkIsolation": True,
    "enableInterContainerTrafficEncryption": True,
    "vpcConfig": VPC,
    "outputDataConfig": {"s3OutputPath": "s3://models/out", "kmsKeyId": "arn:key"},
    "resourceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1.0, "volumeSizeInGb": 30.0},
}


def test_training_isolation_fails(assert_violation):
    job = resource(TRAINING, "train", {**SECURE_TRAINING, "enableNetworkIsolation": False})
    assert_violation(
        "sagemaker-training-network-isolation",
        [job],
        "training job 'train' does not enable network isolation",
    )


def test_training_isolation_fails_on_tuning_definition(assert_violation):
    tuning = resource(
        TUNING, "tune", {"trainingJobDefinitions": [SECURE_TRAINING, {"vpcConfig": VPC}]}
    )
    assert_violation(
        "sagemaker-training-network-isolation",
        [tuning],
        "training_job_definitions[1] does not enable",
    )


def test_training_isolation_passes(assert_passes):
    assert_passes(
        "sagemaker-training-network-isolation",
        [
            resource(TRAINING, "train", SECURE_TRAINING),
            resource(TUNING, "t", {"trainingJobDefinition": SECURE_TRAINING}),
        ],
    )


def test_training_vpc_fails(assert_violation):
    job = resource(
        TRAINING, "train", {k: v for k, v in SECURE_TRAINING.items() if k != "vpcConfig"}
    )
    assert_violation("sagemaker-training-vpc", [job], "training job 'train' runs outside a VPC")


def test_training_vpc_passes(assert_passes):
    assert_passes("sagemaker-training-vpc", [resource(TRAINING, "train", SECURE_TRAINING)])


def test_training_encryption_fails(assert_violation):
    job = resource(
        TRAINING,
        "train",
        {k: v for k, v in SECURE_TRAINING.items() if k != "enableInterContainerTrafficEncryption"},
    )
    assert_violation(
        "sagemaker-training-inter-container-encryption", [job], "inter-container traffic encryption"
    )


def test_training_encryption_passes(assert_passes):
    assert_passes(
        "sagemaker-training-inter-container-encryption",
        [resource(TRAINING, "train", SECURE_TRAINING)],
    )


def test_training_output_kms_fails(assert_violation):
    job = resource(
        TRAINING, "train", {**SECURE_TRAINING, "outputDataConfig": {"s3OutputPath": "s3://m/o"}}
    )
    assert_violation(
        "sagemaker-training-output-kms",
        [job],
        "writes model artifacts without a customer-managed KMS key",
    )


def test_training_output_kms_passes(assert_passes):
    assert_passes("sagemaker-training-output-kms", [resource(TRAINING, "train", SECURE_TRAINING)])


# --- notebooks and domains ------------------------------------------------------------


def test_notebook_root_fails_by_default(assert_violation):
    notebook = resource(NOTEBOOK, "explore", {"instanceType": "ml.t3.medium", "roleArn": "arn"})
    assert_violation(
        "sagemaker-notebook-root-access-disabled",
        [notebook],
        "notebook instance 'explore' gives users root",
    )


def test_notebook_root_passes(assert_passes):
    assert_passes(
        "sagemaker-notebook-root-access-disabled",
        [resource(NOTEBOOK, "n", {"rootAccess": "Disabled"})],
    )


def test_notebook_internet_fails(assert_violation):
    notebook = resource(NOTEBOOK, "explore", {"directInternetAccess": "Enabled"})
    assert_violation(
        "sagemaker-notebook-no-direct-internet", [notebook], "has direct internet access"
    )


def test_notebook_internet_passes(assert_passes):
    notebook = resource(NOTEBOOK, "n", {"directInternetAccess": "Disabled", "subnetId": "subnet-1"})
    assert_passes("sagemaker-notebook-no-direct-internet", [notebook])


def test_domain_vpc_only_fails(assert_violation):
    assert_violation(
        "sagemaker-domain-vpc-only",
        [resource(DOMAIN, "studio", {"authMode": "IAM"})],
        "domain 'studio' sends Studio traffic over the public internet",
    )


def test_domain_vpc_only_passes(assert_passes):
    assert_passes(
        "sagemaker-domain-vpc-only",
        [resource(DOMAIN, "studio", {"appNetworkAccessType": "VpcOnly"})],
    )
