"""A dataset version's manifest, where it lives in the bucket, and `name@version` references.

Layout of the stack's datasets bucket (versioned):

    datasets/<name>/data.<csv|parquet>       the data; each push is a new S3 object version
    manifests/<name>/<version-id>.json       one manifest per data version (this model)

The S3 version id of the data object is the dataset version; the manifest records what
was pushed (sha256, rows, columns, the schema and its hash, the source commit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from ml.data.errors import InvalidReference
from ml.data.schema import check_dataset_name

MANIFEST_FORMAT: Final = "mlops.data.manifest/v1"
DATA_PREFIX: Final = "datasets"
MANIFEST_PREFIX: Final = "manifests"
LATEST: Final = "latest"


class DatasetVersion(BaseModel):
    """One pushed version of a dataset, as recorded in its manifest."""

    # Manifests outlive this code: a newer writer's extra fields are ignored, not an error.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    manifest_format: str = MANIFEST_FORMAT
    dataset: str
    version: str = Field(description="S3 version id of the data object.")
    bucket: str
    key: str
    format: str = Field(description="csv or parquet.")
    sha256: str = Field(description="Hex sha256 of the exact bytes pushed.")
    size_bytes: int
    rows: int
    columns: list[str]
    schema_sha256: str
    schema_: dict[str, Any] = Field(alias="schema", description="The schema, as validated.")
    git_commit: str = Field(description="Source commit; 'unknown' outside git.")
    created: datetime
    source_file: str = Field(description="Base name of the file that was pushed.")
    kms_key_arn: str

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.dataset, self.version)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> DatasetVersion:
        return cls.model_validate_json(text)


def data_key(dataset: str, fmt: str) -> str:
    return f"{DATA_PREFIX}/{dataset}/data.{fmt}"


def manifest_prefix(dataset: str | None = None) -> str:
    return f"{MANIFEST_PREFIX}/" if dataset is None else f"{MANIFEST_PREFIX}/{dataset}/"


def manifest_key(dataset: str, version: str) -> str:
    return f"{manifest_prefix(dataset)}{version}.json"


def parse_ref(ref: str) -> tuple[str, str]:
    """``name@version`` -> (name, version); ``name@latest`` -> (name, "latest")."""
    name, sep, version = ref.partition("@")
    if not sep or not name or not version or "/" in version:
        raise InvalidReference(ref)
    return check_dataset_name(name), version
