"""SageMaker policies: encryption, data capture, network isolation, notebooks, domains.

"Where required" is expressed per environment through enforcement levels (see
policies/config/<env>.json), not through conditions in the code: e.g. network isolation
is advisory in dev and mandatory in prod.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import MlopsResourcePolicy, Subject
from ._values import UNKNOWN, Tri, get, is_aws_managed_key, items, number, truth

ENDPOINT_CONFIG_TYPE: Final = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL_TYPE: Final = "aws:sagemaker/model:Model"
NOTEBOOK_TYPE: Final = "aws:sagemaker/notebookInstance:NotebookInstance"
TRAINING_JOB_TYPE: Final = "aws:sagemaker/trainingJob:TrainingJob"
TUNING_JOB_TYPE: Final = "aws:sagemaker/hyperParameterTuningJob:HyperParameterTuningJob"
DOMAIN_TYPE: Final = "aws:sagemaker/domain:Domain"
TRAINING_TYPES: Final = (TRAINING_JOB_TYPE, TUNING_JOB_TYPE)

SpecCheck = Callable[[Any], str | None]


def training_specs(subject: Subject) -> list[tuple[str, Any]]:
    """(where, spec) for a training job, or each training job definition of a tuning job."""
    if subject.type == TRAINING_JOB_TYPE:
        return [(f"training job '{subject.name}'", subject.props)]
    where = f"tuning job '{subject.name}'"
    specs: list[tuple[str, Any]] = []
    single = get(subject.props, "trainingJobDefinition")
    if single is not None:
        specs.append((f"{where} training_job_definition", single))
    for index, spec in enumerate(items(get(subject.props, "trainingJobDefinitions"))):
        specs.append((f"{where} training_job_definitions[{index}]", spec))
    return specs


def _each_training_spec(subject: Subject, problem: SpecCheck, fix: str) -> Iterator[str]:
    for where, spec in training_specs(subject):
        if spec is UNKNOWN:
            continue
        found = problem(spec)
        if found:
            yield f"SageMaker {where} {found}. {fix}"


def _vpc_problem(vpc: Any) -> str | None:
    if vpc is UNKNOWN:
        return None
    if vpc is None:
        return "runs outside a VPC (no vpc_config)"
    for key, what in (("subnets", "subnets"), ("securityGroupIds", "security_group_ids")):
        value = get(vpc, key)
        if value is not UNKNOWN and not items(value):
            return f"has a vpc_config without {what}"
    return None


def _flag_off(spec: Any, key: str, what: str) -> str | None:
    return f"does not enable {what}" if truth(get(spec, key)) is Tri.NO else None


# --- endpoint configuration -------------------------------------------------------------


def _maybe_all_serverless(props: dict[str, Any]) -> bool:
    """True if every variant is (or, being unknown, may be) serverless."""
    variants = items(get(props, "productionVariants"))
    return bool(variants) and all(get(v, "serverlessConfig") is not None for v in variants)


def _check_endpoint_kms(subject: Subject) -> Iterator[str]:
    # Serverless variants have no ML storage volume and SageMaker rejects a KMS key for them.
    key = get(subject.props, "kmsKeyArn")
    if key is None and not _maybe_all_serverless(subject.props):
        yield (
            f"SageMaker endpoint configuration '{subject.name}' does not encrypt the ML "
            "storage volume with a customer-managed key. Set kms_key_arn=<key>.arn."
        )
    elif is_aws_managed_key(key):
        yield (
            f"SageMaker endpoint configuration '{subject.name}' encrypts the ML storage volume "
            f"with the AWS-managed key '{key}'. Set kms_key_arn=<customer-managed key>.arn."
        )


def _check_data_capture(subject: Subject) -> Iterator[str]:
    capture = get(subject.props, "dataCaptureConfig")
    name = f"SageMaker endpoint configuration '{subject.name}'"
    if capture is None:
        yield (
            f"{name} has no data capture, so drift and prediction monitoring have no data. "
            "Set data_capture_config={'enable_capture': True, 'initial_sampling_percentage': "
            "<pct>, 'destination_s3_uri': 's3://<capture bucket>/<prefix>', 'capture_options': "
            "[{'capture_mode': 'Input'}, {'capture_mode': 'Output'}]}."
        )
        return
    if capture is UNKNOWN:
        return
    # AWS enables capture when the block is present and enable_capture is omitted.
    if get(capture, "enableCapture") is False:
        yield f"{name} sets data_capture_config.enable_capture=False. Set it to True."
    if number(get(capture, "initialSamplingPercentage")) == 0:
        yield f"{name} samples 0% of requests for data capture. Set a sampling percentage > 0."


# --- models -----------------------------------------------------------------------------


def _check_model_isolation(subject: Subject) -> Iterator[str]:
    if truth(get(subject.props, "enableNetworkIsolation")) is Tri.NO:
        yield (
            f"SageMaker model '{subject.name}' lets its inference container reach the network. "
            "Set enable_network_isolation=True (the model data is still loaded by SageMaker)."
        )


def _check_model_vpc(subject: Subject) -> Iterator[str]:
    problem = _vpc_problem(get(subject.props, "vpcConfig"))
    if problem:
        yield (
            f"SageMaker model '{subject.name}' {problem}. Set vpc_config={{'subnets': "
            "[<private subnet ids>], 'security_group_ids': [<sg id>]}."
        )


# --- training ---------------------------------------------------------------------------


def _check_training_isolation(subject: Subject) -> Iterator[str]:
    return _each_training_spec(
        subject,
        lambda spec: _flag_off(spec, "enableNetworkIsolation", "network isolation"),
        "Set enable_network_isolation=True.",
    )


def _check_training_vpc(subject: Subject) -> Iterator[str]:
    return _each_training_spec(
        subject,
        lambda spec: _vpc_problem(get(spec, "vpcConfig")),
        "Set vpc_config with private subnets and a security group.",
    )


def _check_training_encryption(subject: Subject) -> Iterator[str]:
    return _each_training_spec(
        subject,
        lambda spec: _flag_off(
            spec, "enableInterContainerTrafficEncryption", "inter-container traffic encryption"
        ),
        "Set enable_inter_container_traffic_encryption=True.",
    )


def _output_kms_problem(spec: Any) -> str | None:
    output = get(spec, "outputDataConfig")
    if output is UNKNOWN:
        return None
    key = get(output, "kmsKeyId")
    if key is None:
        return "writes model artifacts without a customer-managed KMS key"
    if is_aws_managed_key(key):
        return f"writes model artifacts with the AWS-managed key '{key}'"
    return None


def _check_training_kms(subject: Subject) -> Iterator[str]:
    return _each_training_spec(
        subject, _output_kms_problem, "Set output_data_config.kms_key_id=<key>.arn."
    )


# --- notebooks and domains --------------------------------------------------------------


def _check_notebook_root(subject: Subject) -> Iterator[str]:
    # AWS defaults root_access to "Enabled", so an absent value is a violation.
    value = get(subject.props, "rootAccess")
    if value is not UNKNOWN and value != "Disabled":
        yield (
            f"SageMaker notebook instance '{subject.name}' gives users root access. Set "
            "root_access='Disabled'."
        )


def _check_notebook_internet(subject: Subject) -> Iterator[str]:
    value = get(subject.props, "directInternetAccess")
    if value is not UNKNOWN and value != "Disabled":
        yield (
            f"SageMaker notebook instance '{subject.name}' has direct internet access. Set "
            "direct_internet_access='Disabled' with subnet_id and security_groups in a "
            "private subnet (reach the internet through NAT/VPC endpoints if needed)."
        )


def _check_domain_vpc_only(subject: Subject) -> Iterator[str]:
    value = get(subject.props, "appNetworkAccessType")
    if value is not UNKNOWN and value != "VpcOnly":
        yield (
            f"SageMaker domain '{subject.name}' sends Studio traffic over the public internet. "
            "Set app_network_access_type='VpcOnly' with private subnet_ids."
        )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="sagemaker-endpoint-config-kms",
        description=(
            "Checks that every SageMaker endpoint configuration (except all-serverless ones) "
            "sets kms_key_arn."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(ENDPOINT_CONFIG_TYPE,),
        check=_check_endpoint_kms,
        remediation="Set kms_key_arn on the aws.sagemaker.EndpointConfiguration.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-endpoint-data-capture",
        description=(
            "Checks that every SageMaker endpoint configuration captures request/response "
            "data (needed for drift monitoring)."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(ENDPOINT_CONFIG_TYPE,),
        check=_check_data_capture,
        remediation=(
            "Set data_capture_config with enable_capture=True, a sampling percentage > 0 and "
            "a destination in the capture bucket."
        ),
    ),
    MlopsResourcePolicy(
        name="sagemaker-model-network-isolation",
        description="Checks that every SageMaker model enables network isolation.",
        level=EnforcementLevel.ADVISORY,
        resource_types=(MODEL_TYPE,),
        check=_check_model_isolation,
        remediation="Set enable_network_isolation=True on the aws.sagemaker.Model.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-model-vpc",
        description=(
            "Checks that every SageMaker model runs in a VPC (subnets and security groups)."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=(MODEL_TYPE,),
        check=_check_model_vpc,
        remediation="Set vpc_config with private subnets and a security group on the model.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-training-network-isolation",
        description=(
            "Checks that every SageMaker training job (and tuning job definition) enables "
            "network isolation."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=TRAINING_TYPES,
        check=_check_training_isolation,
        remediation="Set enable_network_isolation=True on the training job definition.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-training-vpc",
        description=(
            "Checks that every SageMaker training job (and tuning job definition) runs in a VPC."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=TRAINING_TYPES,
        check=_check_training_vpc,
        remediation="Set vpc_config with private subnets and a security group on the job.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-training-inter-container-encryption",
        description=(
            "Checks that every SageMaker training job (and tuning job definition) encrypts "
            "inter-container traffic."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=TRAINING_TYPES,
        check=_check_training_encryption,
        remediation="Set enable_inter_container_traffic_encryption=True on the job.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-training-output-kms",
        description=(
            "Checks that every SageMaker training job (and tuning job definition) encrypts "
            "its output artifacts with a customer-managed KMS key."
        ),
        level=EnforcementLevel.ADVISORY,
        resource_types=TRAINING_TYPES,
        check=_check_training_kms,
        remediation="Set output_data_config.kms_key_id on the job.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-notebook-root-access-disabled",
        description="Checks that every SageMaker notebook instance disables root access.",
        level=EnforcementLevel.MANDATORY,
        resource_types=(NOTEBOOK_TYPE,),
        check=_check_notebook_root,
        remediation="Set root_access='Disabled' on the aws.sagemaker.NotebookInstance.",
    ),
    MlopsResourcePolicy(
        name="sagemaker-notebook-no-direct-internet",
        description=(
            "Checks that every SageMaker notebook instance disables direct internet access."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=(NOTEBOOK_TYPE,),
        check=_check_notebook_internet,
        remediation=(
            "Set direct_internet_access='Disabled' and place the notebook in a private subnet."
        ),
    ),
    MlopsResourcePolicy(
        name="sagemaker-domain-vpc-only",
        description="Checks that every SageMaker Studio domain uses VpcOnly network access.",
        level=EnforcementLevel.ADVISORY,
        resource_types=(DOMAIN_TYPE,),
        check=_check_domain_vpc_only,
        remediation="Set app_network_access_type='VpcOnly' on the aws.sagemaker.Domain.",
    ),
]
