"""The stack's model registry: SageMaker model packages in `outputs.model_package_group_name`.

Each registered model is one package version: its serving container (image + model data,
CSV and JSON in and out), its lineage (`ml.registry.lineage`) and an approval status. New
packages are `Approved` when the stack's config says so (`registry_auto_approve`, e.g. dev)
and `PendingManualApproval` otherwise (prod), until someone approves or rejects them.
The champion, which a new model must beat at the evaluation gate, is the newest approved one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from ml.registry.errors import ModelPackageGroupMissing, RegistryInputError, UnknownModelPackage
from ml.registry.lineage import DatasetLike, DatasetRef, Lineage, check_model_data_url
from ml.stack import StackHandle

CONTENT_TYPES: Final = ("text/csv", "application/json")
"""What the serving container accepts and returns (`ml.serve`)."""
MAX_NOTE_LENGTH: Final = 1024  # UpdateModelPackage's ApprovalDescription limit
_NOT_FOUND_CODES: Final = frozenset({"ValidationException", "ResourceNotFound"})


class ApprovalStatus(StrEnum):
    APPROVED = "Approved"
    REJECTED = "Rejected"
    PENDING = "PendingManualApproval"


@dataclass(frozen=True)
class ModelPackage:
    """One registered model version, as `DescribeModelPackage` reports it."""

    arn: str
    group: str
    version: int
    status: ApprovalStatus
    created: datetime
    image_uri: str
    model_data_url: str
    lineage: Lineage | None
    """None for a package registered without the toolkit's lineage."""
    approval_note: str = ""
    description: str = ""

    @property
    def metrics(self) -> Mapping[str, float]:
        """Holdout metrics recorded at registration (empty without lineage)."""
        return self.lineage.metrics if self.lineage else {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`mlops models list --json`)."""
        lineage = self.lineage
        return {
            "arn": self.arn,
            "group": self.group,
            "version": self.version,
            "status": self.status.value,
            "created": self.created.isoformat(),
            "image_uri": self.image_uri,
            "model_data_url": self.model_data_url,
            "approval_note": self.approval_note,
            "description": self.description,
            "dataset": lineage.dataset.name if lineage else None,
            "dataset_version": lineage.dataset.version if lineage else None,
            "git_commit": lineage.git_commit if lineage else None,
            "training_job": lineage.training_job if lineage else None,
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> ModelPackage:
        containers = described.get("InferenceSpecification", {}).get("Containers") or [{}]
        return cls(
            arn=described["ModelPackageArn"],
            group=described.get("ModelPackageGroupName", ""),
            version=int(described.get("ModelPackageVersion", 0)),
            status=ApprovalStatus(described.get("ModelApprovalStatus", ApprovalStatus.PENDING)),
            created=described["CreationTime"],
            image_uri=containers[0].get("Image", ""),
            model_data_url=containers[0].get("ModelDataUrl", ""),
            lineage=Lineage.from_properties(described.get("CustomerMetadataProperties") or {}),
            approval_note=described.get("ApprovalDescription", ""),
            description=described.get("ModelPackageDescription", ""),
        )


def register(
    handle: StackHandle,
    *,
    model_data_url: str,
    image_uri: str,
    metrics: Mapping[str, float],
    dataset_ref: DatasetRef | DatasetLike | str,
    git_commit: str,
    training_job: str,
    approve: bool | None = None,
) -> ModelPackage:
    """Register a trained model as a new version in the stack's model package group.

    `dataset_ref` is a `DatasetRef`, `ml.data`'s `DatasetVersion`, or "name@version".
    `approve=None` follows the stack (`outputs.registry_auto_approve`); True or False
    overrides it. Everything is validated before the one create call, so a refused
    argument (`RegistryInputError`) registers nothing.
    """
    outputs = handle.outputs
    check_model_data_url(model_data_url)
    if not image_uri:
        raise RegistryInputError("image_uri is empty. Fix: pass the serving image's ECR URI")
    lineage = Lineage(
        dataset=DatasetRef.of(dataset_ref),
        git_commit=git_commit,
        training_job=training_job,
        image_uri=image_uri,
        metrics=dict(metrics),
    )
    properties = lineage.to_properties()
    approved = outputs.registry_auto_approve if approve is None else approve
    status = ApprovalStatus.APPROVED if approved else ApprovalStatus.PENDING
    _require_group(handle)
    gate = metrics.get(outputs.gate_metric)
    created = handle.client("sagemaker").create_model_package(
        ModelPackageGroupName=outputs.model_package_group_name,
        ModelPackageDescription=_description(lineage, outputs.gate_metric, gate),
        InferenceSpecification={
            "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": list(CONTENT_TYPES),
            "SupportedResponseMIMETypes": list(CONTENT_TYPES),
        },
        ModelApprovalStatus=status.value,
        # The AWS-native lineage fields (shown by the console) beside our own map.
        MetadataProperties={"CommitId": git_commit, "GeneratedBy": training_job},
        CustomerMetadataProperties=properties,
    )
    return describe(handle, created["ModelPackageArn"])


def describe(handle: StackHandle, arn: str) -> ModelPackage:
    """The package `arn` of the stack's group; `UnknownModelPackage` lists the known ones."""
    return ModelPackage.from_description(_described(handle, arn))


def list_packages(
    handle: StackHandle, *, status: ApprovalStatus | None = None
) -> list[ModelPackage]:
    """Every package of the stack's group (or those with `status`), newest first.

    One `DescribeModelPackage` per package: the summaries carry no lineage or metrics.
    """
    _require_group(handle)
    summaries = sorted(_summaries(handle, status), key=lambda s: -int(s["ModelPackageVersion"]))
    return [describe(handle, summary["ModelPackageArn"]) for summary in summaries]


def champion(handle: StackHandle) -> ModelPackage | None:
    """The newest Approved package (highest version), which a candidate must beat; None
    when nothing is approved yet."""
    _require_group(handle)
    approved = list(_summaries(handle, ApprovalStatus.APPROVED))
    if not approved:
        return None
    # Versions grow with each registration; creation times can tie within a second.
    newest = max(approved, key=lambda s: int(s["ModelPackageVersion"]))
    return describe(handle, newest["ModelPackageArn"])


def approve(handle: StackHandle, arn: str, note: str = "") -> ModelPackage:
    """Mark the package Approved (deployable; a champion candidate), with a reason."""
    return _set_status(handle, arn, ApprovalStatus.APPROVED, note)


def reject(handle: StackHandle, arn: str, note: str = "") -> ModelPackage:
    """Mark the package Rejected (never deployed; no longer a champion), with a reason."""
    return _set_status(handle, arn, ApprovalStatus.REJECTED, note)


def _set_status(handle: StackHandle, arn: str, status: ApprovalStatus, note: str) -> ModelPackage:
    if len(note) > MAX_NOTE_LENGTH:
        raise RegistryInputError(
            f"the note is {len(note)} characters, SageMaker keeps at most {MAX_NOTE_LENGTH}. "
            "Fix: shorten it"
        )
    described = _described(handle, arn)  # unknown, or another stack's: refused here
    update: dict[str, Any] = {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": status.value,
        "ApprovalDescription": note,
    }
    # SageMaker merges these keys (a no-op here); moto 5.2.5 replaces the whole map with what
    # the update carries, and would drop the lineage without them.
    if described.get("CustomerMetadataProperties"):
        update["CustomerMetadataProperties"] = described["CustomerMetadataProperties"]
    handle.client("sagemaker").update_model_package(**update)
    return describe(handle, arn)


def _described(handle: StackHandle, arn: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    group = handle.outputs.model_package_group_name
    try:
        described = handle.client("sagemaker").describe_model_package(ModelPackageName=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _NOT_FOUND_CODES:
            raise
        raise UnknownModelPackage(arn, group, _known_arns(handle)) from None
    if described.get("ModelPackageGroupName") != group:  # another stack's package
        raise UnknownModelPackage(arn, group, _known_arns(handle))
    return dict(described)


def _summaries(handle: StackHandle, status: ApprovalStatus | None) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"ModelPackageGroupName": handle.outputs.model_package_group_name}
    if status is not None:
        kwargs["ModelApprovalStatus"] = status.value
    paginator = handle.client("sagemaker").get_paginator("list_model_packages")
    for page in paginator.paginate(**kwargs):
        yield from page.get("ModelPackageSummaryList", [])


def _known_arns(handle: StackHandle) -> list[str]:
    try:
        summaries = sorted(_summaries(handle, None), key=lambda s: int(s["ModelPackageVersion"]))
    except Exception:  # the listing only decorates the error message; never mask it
        return []
    return [summary["ModelPackageArn"] for summary in summaries]


def _require_group(handle: StackHandle) -> None:
    from botocore.exceptions import ClientError

    group = handle.outputs.model_package_group_name
    try:
        handle.client("sagemaker").describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _NOT_FOUND_CODES:
            raise
        raise ModelPackageGroupMissing(group, handle.outputs.stack) from None


def _description(lineage: Lineage, gate_metric: str, gate: float | None) -> str:
    score = f", {gate_metric}={gate:.4g}" if gate is not None else ""
    return (
        f"{lineage.dataset.name}@{lineage.dataset.version}, commit {lineage.git_commit[:12]}, "
        f"job {lineage.training_job}{score}"
    )[:1024]
