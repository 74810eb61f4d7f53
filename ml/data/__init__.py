"""Versioned, validated datasets in the stack's datasets bucket.

schema = load_schema("ml/data/schemas/churn.yaml")     # -> DatasetSchema (pandera inside)
report = validate_file("churn.csv", schema)            # -> ValidationReport, offline
version = push(handle, "churn.csv", "churn", schema)   # validate, upload (SSE-KMS), manifest
list_versions(handle, "churn"); get(handle, version.ref, "out/")
frame = load_frame(handle, "churn@latest")             # for the training job

`make_churn` (``ml.data.reference``) generates the reference dataset for demos.
"""

from ml.data.errors import (
    BadDataInput,
    DataError,
    DataFileNotFound,
    DatasetNotFound,
    DataStoreError,
    IntegrityError,
    InvalidDatasetName,
    InvalidReference,
    SchemaFileError,
    SchemaMismatch,
    UnsupportedFormat,
    ValidationFailed,
    VersionNotFound,
)
from ml.data.formats import DataFormat
from ml.data.manifest import DatasetVersion, parse_ref
from ml.data.reference import CHURN_SCHEMA, make_churn
from ml.data.report import Issue, IssueKind, Sample, ValidationReport
from ml.data.schema import ColumnSpec, DatasetSchema, RowBounds, load_schema, schema_from_dict
from ml.data.store import get, list_versions, load_frame, push, resolve, sha256_file
from ml.data.validate import read_validated, validate_file, validate_frame

__all__ = [
    "CHURN_SCHEMA",
    "BadDataInput",
    "ColumnSpec",
    "DataError",
    "DataFileNotFound",
    "DataFormat",
    "DataStoreError",
    "DatasetNotFound",
    "DatasetSchema",
    "DatasetVersion",
    "IntegrityError",
    "InvalidDatasetName",
    "InvalidReference",
    "Issue",
    "IssueKind",
    "RowBounds",
    "Sample",
    "SchemaFileError",
    "SchemaMismatch",
    "UnsupportedFormat",
    "ValidationFailed",
    "ValidationReport",
    "VersionNotFound",
    "get",
    "list_versions",
    "load_frame",
    "load_schema",
    "make_churn",
    "parse_ref",
    "push",
    "read_validated",
    "resolve",
    "schema_from_dict",
    "sha256_file",
    "validate_file",
    "validate_frame",
]
