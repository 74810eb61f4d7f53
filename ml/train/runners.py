"""Where a training job runs, chosen by the stack's ``training_runner``.

``LocalRunner`` (the embedded default) runs ``python -m ml.train.entry`` as a subprocess in a
temporary directory laid out like SageMaker's ``/opt/ml``, with the same variables, then packs
the model directory as ``model.tar.gz`` and uploads it, SSE-KMS with the stack's data key, to
``<training_output_path><job>/output/model.tar.gz``: where SageMaker would put it.

``SageMakerRunner`` uploads the input channels (SSE-KMS, beside the job's output), submits
``CreateTrainingJob`` with every setting the stack's policies require (role, VPC, network
isolation, inter-container encryption, KMS for output and volumes, instance allowlist, runtime
cap, managed spot with checkpoints) and waits for the job to end.

Against the emulator (``handle.is_sandbox``) moto records a training job and reports it
Completed at once, but runs nothing. The SageMaker runner then still submits the job (so it
is recorded, with all its settings, as it would be in AWS) and does the compute with the local
runner, uploading the artifact to the job's own output path; it logs that it did so.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import pandas as pd

from ml.stack import StackHandle
from ml.train import artifacts
from ml.train.contract import CHANNEL_CONTENT_TYPE, ContainerLayout
from ml.train.errors import TrainingInputError, TrainingJobFailed
from ml.train.frame import write_channel
from ml.train.s3 import S3Location, upload_encrypted

log = logging.getLogger(__name__)

JOB_NAME_MAX: Final = 63
"""SageMaker's limit on a training job name."""
MAX_TRAINING_SECONDS: Final = 28 * 24 * 3600
"""SageMaker's ceiling for MaxRuntimeInSeconds and MaxWaitTimeInSeconds."""
SPOT_WAIT_MARGIN_SECONDS: Final = 3600
"""Managed spot: how long a job may wait for capacity beyond its runtime (as infra's
``TrainingCompute.max_wait_seconds``, which StackOutputs does not export)."""
CHECKPOINT_LOCAL_PATH: Final = "/opt/ml/checkpoints"
ENTRYPOINT: Final = ("python", "-m", "ml.train.entry")
DEFAULT_IMAGE_TAG: Final = "latest"
DEFAULT_VOLUME_GB: Final = 30
METRIC_DEFINITIONS: Final = tuple(
    {"Name": f"holdout:{name}", "Regex": rf"holdout:{name}=([-+0-9.eE]+|nan)"}
    for name in ("auc", "accuracy", "f1", "logloss")
)
_LOG_TAIL_LINES: Final = 20
# Variables of the submitting process a job must not inherit: a network-isolated container
# has no AWS credentials, no tracking server and no other job's SageMaker variables.
_PARENT_ONLY_PREFIXES: Final = ("AWS_", "SM_", "MLFLOW_", "TRAINING_JOB_")


@dataclass(frozen=True)
class TrainingRequest:
    """One job: its name, input channels, hyperparameters (strings) and provenance."""

    job_name: str
    channels: Mapping[str, pd.DataFrame]
    hyperparameters: Mapping[str, str]
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables the job's container gets (dataset reference, git commit)."""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    """Where a finished job left its model."""

    job_name: str
    runner: str
    model_artifact: str
    """s3:// URI of model.tar.gz."""
    job_arn: str | None = None
    """The SageMaker training job's ARN; None for a local run."""
    computed_locally: bool = True


class Runner(Protocol):
    name: str

    def run(self, request: TrainingRequest) -> JobOutcome: ...


def stack_prefix(handle: StackHandle) -> str:
    """The stack's name prefix (``<project>-<stack>``), read off its model package group
    (``<prefix>-models``), since StackOutputs does not export the prefix itself."""
    group = handle.outputs.model_package_group_name
    return group.removesuffix("-models") if group.endswith("-models") else handle.outputs.stack


def training_job_name(prefix: str, now: datetime | None = None) -> str:
    """``<prefix>-train-<UTC timestamp to the millisecond>``, at most 63 characters."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y%m%d-%H%M%S-") + f"{moment.microsecond // 1000:03d}"
    suffix = f"-train-{stamp}"
    head = "".join(c if c.isalnum() else "-" for c in prefix).strip("-")
    head = head[: JOB_NAME_MAX - len(suffix)].rstrip("-") or "mlops"
    return f"{head}{suffix}"


def artifact_location(handle: StackHandle, job_name: str) -> S3Location:
    """``<training_output_path><job>/output/model.tar.gz``, as SageMaker names it."""
    output = S3Location.parse(handle.outputs.training_output_path)
    return output.join(job_name, "output", artifacts.MODEL_ARCHIVE)


def runner_for(
    handle: StackHandle,
    *,
    instance_type: str | None = None,
    image_tag: str = DEFAULT_IMAGE_TAG,
) -> Runner:
    """The runner the stack asks for (``outputs.training_runner``)."""
    kind = handle.outputs.training_runner
    if kind == LocalRunner.name:
        return LocalRunner(handle)
    if kind == SageMakerRunner.name:
        return SageMakerRunner(handle, instance_type=instance_type, image_tag=image_tag)
    raise TrainingInputError(
        f"stack {handle.outputs.stack!r} asks for training runner {kind!r}, which ml.train "
        f"does not provide (it has: {LocalRunner.name}, {SageMakerRunner.name}); set "
        "trainingRunner in the stack config"
    )


class LocalRunner:
    """Run the entry point in a subprocess in an ``/opt/ml``-shaped temporary directory."""

    name = "local"

    def __init__(
        self,
        handle: StackHandle,
        *,
        python: str = sys.executable,
        timeout_seconds: int | None = None,
    ) -> None:
        self.handle = handle
        self.python = python
        # The stack's runtime cap applies locally too: a runaway job is stopped, not waited on.
        self.timeout_seconds = timeout_seconds or handle.outputs.training_max_runtime_seconds

    def run(self, request: TrainingRequest) -> JobOutcome:
        location = artifact_location(self.handle, request.job_name)
        self.compute(request, location)
        return JobOutcome(request.job_name, self.name, location.uri)

    def compute(self, request: TrainingRequest, artifact: S3Location) -> None:
        """Train in a subprocess, then upload model.tar.gz (and output.tar.gz) to
        ``artifact``'s prefix. Nothing is uploaded if the job fails."""
        with tempfile.TemporaryDirectory(prefix=f"{request.job_name}-") as tmp:
            work = Path(tmp)
            layout = ContainerLayout(work / "opt" / "ml")
            layout.create(request.channels, request.hyperparameters)
            for channel, frame in request.channels.items():
                write_channel(frame, layout.channel_dir(channel), channel)
            self._train(request, layout, work)
            self._upload_outputs(layout, work, artifact)

    def _train(self, request: TrainingRequest, layout: ContainerLayout, work: Path) -> None:
        log_path = work / "training.log"
        command = [self.python, *ENTRYPOINT[1:], "train"]
        log.info("job %s: running %s locally", request.job_name, " ".join(ENTRYPOINT))
        with log_path.open("wb") as out:
            try:
                result = subprocess.run(
                    command,
                    cwd=work,
                    env=self._child_environment(request, layout),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=self.timeout_seconds,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise TrainingJobFailed(
                    f"job {request.job_name} exceeded the stack's max runtime of "
                    f"{self.timeout_seconds}s and was stopped"
                ) from None
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines:
            log.debug("job %s | %s", request.job_name, line)
        if result.returncode != 0:
            reason = (
                layout.failure_file.read_text(encoding="utf-8").strip()
                if layout.failure_file.is_file()
                else f"exit code {result.returncode}"
            )
            tail = "\n".join(lines[-_LOG_TAIL_LINES:])
            raise TrainingJobFailed(f"job {request.job_name} failed: {reason}\n{tail}")

    def _child_environment(
        self, request: TrainingRequest, layout: ContainerLayout
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_PARENT_ONLY_PREFIXES)}
        # The child imports this very source tree, installed or not.
        source_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
        env.update(layout.environment(request.channels))
        env["TRAINING_JOB_NAME"] = request.job_name  # SageMaker sets it in every container
        env.update(request.environment)
        return env

    def _upload_outputs(self, layout: ContainerLayout, work: Path, artifact: S3Location) -> None:
        s3 = self.handle.client("s3")
        key = self.handle.outputs.data_kms_key_arn
        if any(p.is_file() for p in layout.output_data_dir.rglob("*")):
            output = artifacts.pack_directory(layout.output_data_dir, work / "output.tar.gz")
            sibling = S3Location(artifact.bucket, artifact.key.rsplit("/", 1)[0])
            upload_encrypted(s3, output, sibling.join(artifacts.OUTPUT_ARCHIVE), key)
        # The model last: once model.tar.gz exists, everything of the job is in place.
        model = artifacts.pack_directory(layout.model_dir, work / artifacts.MODEL_ARCHIVE)
        upload_encrypted(s3, model, artifact, key)
        log.info("uploaded %s (SSE-KMS)", artifact.uri)


class SageMakerRunner:
    """Submit a SageMaker training job that satisfies the stack's policies, and wait for it."""

    name = "sagemaker"

    def __init__(
        self,
        handle: StackHandle,
        *,
        instance_type: str | None = None,
        instance_count: int = 1,
        image_tag: str = DEFAULT_IMAGE_TAG,
        volume_size_gb: int = DEFAULT_VOLUME_GB,
        poll_seconds: int = 60,
        local: LocalRunner | None = None,
    ) -> None:
        outputs = handle.outputs
        allowed = list(outputs.training_instance_types)
        chosen = instance_type or (allowed[0] if allowed else "")
        if chosen not in allowed:
            raise TrainingInputError(
                f"instance type {chosen!r} is not allowed by stack {outputs.stack!r} "
                f"(allowed: {', '.join(allowed) or 'none'}); pick one of those or add it to "
                "trainingInstanceTypes in the stack config"
            )
        if not 1 <= instance_count <= outputs.training_max_instances:
            raise TrainingInputError(
                f"instance count {instance_count} is outside 1..{outputs.training_max_instances} "
                f"(trainingMaxInstances of stack {outputs.stack!r})"
            )
        if bool(outputs.training_subnet_ids) != bool(outputs.training_security_group_ids):
            raise TrainingInputError(
                f"stack {outputs.stack!r} exports training subnets without security groups "
                "(or the reverse); a VPC job needs both: redeploy the stack's network"
            )
        if not image_tag:
            raise TrainingInputError("the training image tag is empty; pass --image-tag")
        self.handle = handle
        self.instance_type = chosen
        self.instance_count = instance_count
        self.image_tag = image_tag
        self.volume_size_gb = volume_size_gb
        self.poll_seconds = poll_seconds
        self.local = local or LocalRunner(handle)

    @property
    def image_uri(self) -> str:
        return f"{self.handle.outputs.ecr_repository_url}:{self.image_tag}"

    def job_definition(
        self, request: TrainingRequest, channel_uris: Mapping[str, str]
    ) -> dict[str, Any]:
        """The ``CreateTrainingJob`` request for this job (pure: no AWS call)."""
        outputs = self.handle.outputs
        kms = outputs.data_kms_key_arn
        runtime = outputs.training_max_runtime_seconds
        definition: dict[str, Any] = {
            "TrainingJobName": request.job_name,
            "RoleArn": outputs.training_role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": self.image_uri,
                "TrainingInputMode": "File",
                "ContainerEntrypoint": list(ENTRYPOINT),
                "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
            },
            "HyperParameters": {k: str(v) for k, v in request.hyperparameters.items()},
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": CHANNEL_CONTENT_TYPE,
                    "CompressionType": "None",
                }
                for channel, uri in sorted(channel_uris.items())
            ],
            "OutputDataConfig": {"S3OutputPath": outputs.training_output_path, "KmsKeyId": kms},
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": self.volume_size_gb,
                "VolumeKmsKeyId": kms,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
            # Data arrives through channels and leaves through the output path: the container
            # needs no network at all, and traffic between instances is encrypted.
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "Environment": dict(request.environment),
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(request.tags.items())],
        }
        if outputs.training_subnet_ids:
            definition["VpcConfig"] = {
                "SecurityGroupIds": list(outputs.training_security_group_ids),
                "Subnets": list(outputs.training_subnet_ids),
            }
        if outputs.training_spot:
            definition["EnableManagedSpotTraining"] = True
            definition["StoppingCondition"]["MaxWaitTimeInSeconds"] = max_wait_seconds(runtime)
            checkpoints = S3Location.parse(outputs.training_checkpoint_path)
            definition["CheckpointConfig"] = {
                "S3Uri": checkpoints.join(request.job_name).as_prefix().uri,
                "LocalPath": CHECKPOINT_LOCAL_PATH,
            }
        return definition

    def run(self, request: TrainingRequest) -> JobOutcome:
        if not self.handle.is_sandbox:
            self._check_image()
        channel_uris = self._upload_channels(request)
        sagemaker = self.handle.client("sagemaker")
        arn = sagemaker.create_training_job(**self.job_definition(request, channel_uris))[
            "TrainingJobArn"
        ]
        log.info("submitted training job %s (%s)", request.job_name, self.instance_type)
        if self.handle.is_sandbox:
            location = artifact_location(self.handle, request.job_name)
            log.info(
                "sandbox: the emulator records job %s but runs nothing; computing it with the "
                "local runner and uploading the model to %s",
                request.job_name,
                location.uri,
            )
            try:
                self.local.compute(request, location)
            except TrainingJobFailed:
                # moto already marked the job Completed; Stopped (its gap fill) at least
                # keeps the record from claiming a model that was never produced.
                sagemaker.stop_training_job(TrainingJobName=request.job_name)
                raise
        described = self._wait(request.job_name)
        return JobOutcome(
            job_name=request.job_name,
            runner=self.name,
            model_artifact=described["ModelArtifacts"]["S3ModelArtifacts"],
            job_arn=arn,
            computed_locally=self.handle.is_sandbox,
        )

    def _check_image(self) -> None:
        """Fail before uploading or submitting anything if the image is not in the repo."""
        url = self.handle.outputs.ecr_repository_url
        repository = url.split("/", 1)[1] if "/" in url else url
        ecr = self.handle.client("ecr")
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": self.image_tag}])
        except (
            ecr.exceptions.ImageNotFoundException,
            ecr.exceptions.RepositoryNotFoundException,
        ):
            raise TrainingInputError(
                f"image {self.image_uri} does not exist; push the training image with that "
                "tag, or pass --image-tag with one that exists"
            ) from None

    def _upload_channels(self, request: TrainingRequest) -> dict[str, str]:
        """Each channel as CSV under ``<output path><job>/input/<channel>/`` (SSE-KMS): S3
        channels cannot pin an object version, so the job gets its own copy of the exact
        frame it was asked to train on."""
        output = S3Location.parse(self.handle.outputs.training_output_path)
        s3 = self.handle.client("s3")
        uris: dict[str, str] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for channel, frame in request.channels.items():
                path = write_channel(frame, Path(tmp) / channel, channel)
                prefix = output.join(request.job_name, "input", channel).as_prefix()
                upload_encrypted(
                    s3, path, prefix.join(path.name), self.handle.outputs.data_kms_key_arn
                )
                uris[channel] = prefix.uri
        return uris

    def _wait(self, job_name: str) -> dict[str, Any]:
        from botocore.exceptions import WaiterError

        sagemaker = self.handle.client("sagemaker")
        outputs = self.handle.outputs
        budget = outputs.training_max_runtime_seconds
        if outputs.training_spot:
            budget = max_wait_seconds(budget)
        attempts = math.ceil(budget / self.poll_seconds) + 2
        try:
            sagemaker.get_waiter("training_job_completed_or_stopped").wait(
                TrainingJobName=job_name,
                WaiterConfig={"Delay": self.poll_seconds, "MaxAttempts": attempts},
            )
        except WaiterError:
            pass  # a Failed job ends the waiter with an error: the status below says why
        described: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=job_name)
        status = described.get("TrainingJobStatus")
        if status != "Completed":
            reason = described.get("FailureReason") or "no reason given"
            raise TrainingJobFailed(f"training job {job_name} ended {status}: {reason}")
        return described


def max_wait_seconds(max_runtime_seconds: int) -> int:
    """MaxWaitTimeInSeconds of a managed spot job: runtime plus an hour, capped at 28 days."""
    return min(max_runtime_seconds + SPOT_WAIT_MARGIN_SECONDS, MAX_TRAINING_SECONDS)
