"""Fetch a training job's `model.tar.gz` from S3 (through the stack's handle) and unpack it.

Unpacking uses tarfile's "data" filter (PEP 706): no absolute paths, no `..`, no links
leaving the directory, no device files, so a tampered archive cannot write outside `dest`.
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from pathlib import Path
from typing import Final

from ml.serve.model import MODEL_FILENAME
from ml.stack import StackHandle

_S3_URL: Final = re.compile(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)")
_NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})


class ModelArtifactError(RuntimeError):
    """The artifact cannot be fetched or is not a model archive; the message says why."""


def split_s3_url(url: str) -> tuple[str, str]:
    match = _S3_URL.fullmatch(url or "")
    if not match:
        raise ModelArtifactError(
            f"{url!r} is not an s3://bucket/key URL. Fix: pass the S3 URL of model.tar.gz"
        )
    return match["bucket"], match["key"]


def download_model(handle: StackHandle, model_data_url: str, dest: Path) -> Path:
    """Download `model_data_url` and unpack it into `dest` (created); returns `dest`."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_url(model_data_url)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
        archive = Path(scratch) / "model.tar.gz"
        try:
            handle.client("s3").download_file(bucket, key, str(archive))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                raise ModelArtifactError(
                    f"{model_data_url} does not exist in stack {handle.outputs.stack!r}. Fix: "
                    "check the URL (the training job's ModelArtifacts.S3ModelArtifacts)"
                ) from None
            raise ModelArtifactError(f"downloading {model_data_url} failed: {error}") from error
        extract_model(archive, dest, source=model_data_url)
    return dest


def extract_model(archive: Path, dest: Path, *, source: str | None = None) -> Path:
    """Unpack a model archive into `dest`; it must hold `model.joblib` at its top level."""
    where = source or str(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            names = tar.getnames()
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise ModelArtifactError(f"{where} is not a readable tar archive: {error}") from error
    if not (Path(dest) / MODEL_FILENAME).is_file():
        raise ModelArtifactError(
            f"{where} has no top-level {MODEL_FILENAME} (it holds {sorted(names)[:10]}). Fix: "
            "package the model directory's contents, not the directory itself"
        )
    return Path(dest)
