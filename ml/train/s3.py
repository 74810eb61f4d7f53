"""S3 locations and the two transfers training needs, always with the stack's KMS key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.train.errors import TrainingInputError


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        scheme, _, rest = uri.partition("://")
        bucket, _, key = rest.partition("/")
        if scheme != "s3" or not bucket:
            raise TrainingInputError(f"{uri!r} is not an s3://bucket/key URI")
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Location:
        """This location as a prefix, extended by parts (one slash between each)."""
        pieces = [self.key.strip("/"), *(part.strip("/") for part in parts)]
        return S3Location(self.bucket, "/".join(piece for piece in pieces if piece))

    def as_prefix(self) -> S3Location:
        """The same location ending with a slash (an S3Prefix channel or output path)."""
        return S3Location(self.bucket, self.key.rstrip("/") + "/")


def upload_encrypted(s3: Any, path: Path, location: S3Location, kms_key_arn: str) -> str:
    """Upload a file with SSE-KMS under the stack's data key; returns the object's URI."""
    s3.upload_file(
        str(path),
        location.bucket,
        location.key,
        ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn},
    )
    return location.uri


def download(s3: Any, location: S3Location, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(location.bucket, location.key, str(path))
    return path
