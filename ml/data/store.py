"""Versioned datasets in the stack's datasets bucket: push, list, get, load.

    version = push(handle, "churn.csv", "churn", load_schema("ml/data/schemas/churn.yaml"))
    list_versions(handle, "churn")                     # oldest first
    get(handle, f"churn@{version.version}", "out/")    # byte-identical, sha256-checked
    frame = load_frame(handle, "churn@latest")         # typed by the pushed schema

Validation runs before any call to AWS: invalid data is never uploaded. Every object is
written with SSE-KMS under the stack's data key (the bucket policy denies any other key);
the key is passed by ARN because the policy compares ARNs, not aliases.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ml.data.errors import (
    DataFileNotFound,
    DatasetNotFound,
    DataStoreError,
    IntegrityError,
    SchemaMismatch,
    ValidationFailed,
    VersionNotFound,
)
from ml.data.formats import DataFormat, format_of
from ml.data.manifest import (
    LATEST,
    DatasetVersion,
    data_key,
    manifest_key,
    manifest_prefix,
    parse_ref,
)
from ml.data.provenance import git_commit
from ml.data.schema import DatasetSchema, check_dataset_name, load_schema, schema_from_dict
from ml.data.validate import read_validated, validate_file
from ml.stack import StackHandle

log = logging.getLogger(__name__)

SSE: Final = "aws:kms"
CONTENT_TYPES: Final = {
    DataFormat.CSV: "text/csv",
    DataFormat.PARQUET: "application/vnd.apache.parquet",
}
_CHUNK: Final = 1 << 20


def push(
    handle: StackHandle,
    path: str | Path,
    dataset: str,
    schema: DatasetSchema | str | Path,
) -> DatasetVersion:
    """Validate `path` against `schema`, then upload it as a new version of `dataset`.

    Raises `ValidationFailed` (with the report) before touching the bucket if the data does
    not satisfy the schema. Pushing the same bytes as the latest version uploads nothing
    and returns that version.
    """
    path = Path(path)
    check_dataset_name(dataset)
    loaded, schema_name = _schema(schema)
    if loaded.dataset is not None and loaded.dataset != dataset:
        raise SchemaMismatch(schema_name, loaded.dataset, dataset)
    fmt = format_of(path)
    if not path.is_file():
        raise DataFileNotFound(path)
    digest = sha256_file(path)  # before validating: S3 checks the upload against this hash
    report = validate_file(path, loaded, schema_name=schema_name)
    if not report.ok:
        raise ValidationFailed(report)
    bucket = _Bucket(handle)
    bucket.require_versioning()
    versions = bucket.manifests(dataset)
    if versions and versions[-1].sha256 == digest and versions[-1].format == fmt.value:
        log.info("%s: same bytes as %s, nothing uploaded", path, versions[-1].ref)
        return versions[-1]
    key = data_key(dataset, fmt.value)
    version_id = bucket.upload(path, key, digest, CONTENT_TYPES[fmt])
    manifest = DatasetVersion(
        dataset=dataset,
        version=version_id,
        bucket=bucket.name,
        key=key,
        format=fmt.value,
        sha256=digest,
        size_bytes=path.stat().st_size,
        rows=report.rows or 0,
        columns=list(report.columns),
        schema_sha256=loaded.sha256,
        schema_=loaded.to_dict(),
        git_commit=git_commit(),
        created=datetime.now(UTC),
        source_file=path.name,
        kms_key_arn=bucket.kms_key_arn,
    )
    try:
        bucket.put_manifest(manifest)
    except BaseException:
        # An unlisted data version would be invisible yet billed; take it back out.
        bucket.delete_version(key, version_id)
        raise
    log.info("pushed %s (%d rows, sha256 %s)", manifest.ref, manifest.rows, digest[:12])
    return manifest


def list_versions(handle: StackHandle, dataset: str | None = None) -> list[DatasetVersion]:
    """Every pushed version (of one dataset, or of all), oldest first per dataset.
    Naming a dataset that has no version raises `DatasetNotFound` with the known ones."""
    bucket = _Bucket(handle)
    if dataset is None:
        return bucket.manifests(None)
    check_dataset_name(dataset)
    versions = bucket.manifests(dataset)
    if not versions:
        raise DatasetNotFound(dataset, bucket.datasets(), bucket.name)
    return versions


def resolve(handle: StackHandle, ref: str) -> DatasetVersion:
    """The manifest of ``name@version`` or ``name@latest``."""
    name, version = parse_ref(ref)
    return _resolve(_Bucket(handle), name, version)


def get(handle: StackHandle, ref: str, dest: str | Path = ".") -> Path:
    """Download a version to `dest` (a directory, or a file path) and return the file.

    The bytes are checked against the manifest's sha256 before the file appears: a
    mismatch raises `IntegrityError` and leaves nothing behind.
    """
    bucket = _Bucket(handle)
    name, version = parse_ref(ref)
    return _download(bucket, _resolve(bucket, name, version), Path(dest))


def load_frame(handle: StackHandle, ref: str) -> pd.DataFrame:
    """A version as a frame, validated and typed by the schema it was pushed with."""
    bucket = _Bucket(handle)
    name, version = parse_ref(ref)
    manifest = _resolve(bucket, name, version)
    schema = schema_from_dict(manifest.schema_, f"the manifest of {manifest.ref}")
    with tempfile.TemporaryDirectory(prefix="mlops-data-") as tmp:
        path = _download(bucket, manifest, Path(tmp) / f"data.{manifest.format}")
        return read_validated(path, schema, schema_name=f"the schema of {manifest.ref}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_filename(version: DatasetVersion) -> str:
    return f"{version.dataset}-{version.version}.{version.format}"


# --- internals -----------------------------------------------------------------------------


def _schema(schema: DatasetSchema | str | Path) -> tuple[DatasetSchema, str]:
    if isinstance(schema, DatasetSchema):
        return schema, schema.dataset or "schema"
    return load_schema(schema), str(schema)


def _resolve(bucket: _Bucket, name: str, version: str) -> DatasetVersion:
    if version != LATEST:
        found = bucket.read_manifest(manifest_key(name, version))
        if found is not None:
            return found
    versions = bucket.manifests(name)
    if not versions:
        raise DatasetNotFound(name, bucket.datasets(), bucket.name)
    if version == LATEST:
        return versions[-1]
    raise VersionNotFound(name, version, [v.version for v in versions])


def _download(bucket: _Bucket, manifest: DatasetVersion, dest: Path) -> Path:
    target = dest / default_filename(manifest) if dest.is_dir() else dest
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        actual = bucket.download(manifest, partial)
        if actual != manifest.sha256:
            raise IntegrityError(manifest.ref, manifest.sha256, actual)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


class _Bucket:
    """The datasets bucket, with AWS errors turned into messages that say how to fix them."""

    def __init__(self, handle: StackHandle) -> None:
        self.s3 = handle.client("s3")
        self.name = handle.outputs.datasets_bucket
        self.kms_key_arn = handle.outputs.data_kms_key_arn
        self.stack = handle.outputs.stack

    def require_versioning(self) -> None:
        with self._aws("reading the versioning of"):
            status = self.s3.get_bucket_versioning(Bucket=self.name).get("Status")
        if status != "Enabled":
            raise DataStoreError(
                f"bucket {self.name} is not versioned (status {status or 'never enabled'}), "
                "so a push would overwrite the previous version. Fix: deploy the stack's "
                "storage component, which enables versioning on the datasets bucket"
            )

    def manifests(self, dataset: str | None) -> list[DatasetVersion]:
        """Every readable manifest under the prefix, oldest first (per dataset)."""
        found = [
            manifest
            for key in self._keys(manifest_prefix(dataset))
            if key.endswith(".json") and (manifest := self.read_manifest(key)) is not None
        ]
        return sorted(found, key=lambda m: (m.dataset, m.created, m.version))

    def datasets(self) -> list[str]:
        prefix = manifest_prefix()
        names: set[str] = set()
        with self._aws("listing"):
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    names.add(common["Prefix"][len(prefix) :].rstrip("/"))
        return sorted(names)

    def read_manifest(self, key: str) -> DatasetVersion | None:
        from botocore.exceptions import ClientError

        try:
            with self._aws("reading", passthrough=("NoSuchKey", "404")):
                body = self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError:
            return None
        try:
            return DatasetVersion.from_json(body)
        except ValueError as error:
            log.warning("ignoring unreadable manifest s3://%s/%s: %s", self.name, key, error)
            return None

    def upload(self, path: Path, key: str, digest: str, content_type: str) -> str:
        # S3 recomputes the checksum and rejects the upload if the bytes differ from the
        # ones hashed (and validated): what is recorded is what is stored.
        checksum = base64.b64encode(bytes.fromhex(digest)).decode()
        with self._aws("uploading to"), path.open("rb") as body:
            response = self.s3.put_object(
                Bucket=self.name,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumSHA256=checksum,
                Metadata={"sha256": digest},
                **self._encryption(),
            )
        version = response.get("VersionId")
        if not version or version == "null":
            raise DataStoreError(
                f"s3://{self.name}/{key} was stored without a version id: the bucket is not "
                "versioned. Fix: enable versioning on it (the stack's storage component does)"
            )
        return str(version)

    def put_manifest(self, manifest: DatasetVersion) -> None:
        with self._aws("writing the manifest to"):
            self.s3.put_object(
                Bucket=self.name,
                Key=manifest.manifest_key,
                Body=manifest.to_json().encode(),
                ContentType="application/json",
                **self._encryption(),
            )

    def delete_version(self, key: str, version: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.name, Key=key, VersionId=version)
        except Exception as error:  # best effort while another error is on its way
            log.warning(
                "could not remove s3://%s/%s?versionId=%s: %s", self.name, key, version, error
            )

    def download(self, manifest: DatasetVersion, target: Path) -> str:
        """Write the version's bytes to `target`; return their sha256."""
        digest = hashlib.sha256()
        with self._aws(f"downloading {manifest.ref} from"):
            response = self.s3.get_object(
                Bucket=self.name, Key=manifest.key, VersionId=manifest.version
            )
            with target.open("wb") as out:
                for chunk in response["Body"].iter_chunks(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        return digest.hexdigest()

    def _encryption(self) -> dict[str, str]:
        return {"ServerSideEncryption": SSE, "SSEKMSKeyId": self.kms_key_arn}

    def _keys(self, prefix: str) -> Iterator[str]:
        with self._aws("listing"):
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]

    @contextmanager
    def _aws(self, action: str, passthrough: tuple[str, ...] = ()) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in passthrough:
                raise
            raise DataStoreError(self._explain(action, code, error)) from error
        except BotoCoreError as error:
            raise DataStoreError(
                f"{action} s3://{self.name} failed: {error}. Fix: check that stack "
                f"{self.stack!r} is reachable (for a sandbox, `mlops sandbox status`)"
            ) from error

    def _explain(self, action: str, code: str, error: Any) -> str:
        message = error.response.get("Error", {}).get("Message", str(error))
        if code == "NoSuchBucket":
            return (
                f"the datasets bucket {self.name} of stack {self.stack!r} does not exist. "
                "Fix: deploy the stack (`mlops sandbox up` or `mlops up`) or pick another --stack"
            )
        if code in ("NoSuchVersion", "NoSuchKey"):
            return (
                f"{action} s3://{self.name}: the object a manifest points to is gone ({message}). "
                "Fix: push the dataset again"
            )
        if code in ("AccessDenied", "KMS.AccessDeniedException", "KMS.NotFoundException"):
            return (
                f"{action} s3://{self.name} was denied ({code}: {message}). Fix: use a role "
                f"allowed on the bucket and on KMS key {self.kms_key_arn}"
            )
        return f"{action} s3://{self.name} failed ({code}: {message})"
