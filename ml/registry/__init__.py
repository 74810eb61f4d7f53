"""The model registry: register trained models with their lineage, approve or reject them,
and find the champion the evaluation gate compares against.

package = register(handle, model_data_url="s3://.../model.tar.gz", image_uri=image,
                   metrics={"auc": 0.91}, dataset_ref=DatasetRef("churn", "v3"),
                   git_commit=sha, training_job=job)
best = champion(handle)            # newest Approved package, or None
best.metrics["auc"] if best else None
approve(handle, package.arn, "reviewed the holdout report")
"""

from ml.registry.errors import (
    ModelPackageGroupMissing,
    RegistryError,
    RegistryInputError,
    UnknownModelPackage,
)
from ml.registry.lineage import DatasetLike, DatasetRef, Lineage
from ml.registry.packages import (
    CONTENT_TYPES,
    ApprovalStatus,
    ModelPackage,
    approve,
    champion,
    describe,
    list_packages,
    register,
    reject,
)

__all__ = [
    "CONTENT_TYPES",
    "ApprovalStatus",
    "DatasetLike",
    "DatasetRef",
    "Lineage",
    "ModelPackage",
    "ModelPackageGroupMissing",
    "RegistryError",
    "RegistryInputError",
    "UnknownModelPackage",
    "approve",
    "champion",
    "describe",
    "list_packages",
    "register",
    "reject",
]
