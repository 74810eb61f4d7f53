"""Which model is being monitored: its drift baseline and its model and dataset versions.

The baseline is the `drift_baseline.json` stored with the model (inside `model.tar.gz`);
monitoring never reads the training set. It is found, in order:

1. where the caller says (`--baseline`): a local file or an s3:// URI of either the JSON or
   a `model.tar.gz` holding it;
2. from the endpoint: endpoint -> endpoint config -> first variant's model -> its container's
   model package (`ModelPackageName`: its ARN is the model version, and the lineage that
   `ml.registry` stores in its `CustomerMetadataProperties` names the dataset version as
   `<dataset>@<version>`) or its `ModelDataUrl` (the S3 object's URI and version id are the
   model version; the dataset version is then unknown).
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from ml.drift import BASELINE_FILENAME, Baseline, BaselineFormatError
from ml.registry.lineage import KEY_DATASET, KEY_DATASET_VERSION
from ml.stack import StackHandle


class ModelContextError(LookupError):
    """The monitored model's baseline cannot be found or read; the message says how to fix."""


@dataclass(frozen=True)
class ModelContext:
    baseline: Baseline
    model_version: str | None = None
    dataset_version: str | None = None
    source: str = ""
    """Where the baseline was read from."""


def load_baseline(handle: StackHandle, location: str) -> Baseline:
    """A baseline from a local path or an s3:// URI (JSON, or a model.tar.gz holding it)."""
    if location.startswith("s3://"):
        parts = urlsplit(location)
        data = _s3_bytes(handle, parts.netloc, parts.path.lstrip("/"), location)
    else:
        path = Path(location)
        if not path.is_file():
            raise ModelContextError(f"baseline {location}: no such file")
        data = path.read_bytes()
    return _baseline_from_bytes(data, location)


def deployed_model(handle: StackHandle) -> ModelContext:
    """The baseline and versions of the model the stack's endpoint serves."""
    sagemaker = handle.client("sagemaker")
    endpoint = handle.outputs.endpoint_name
    try:
        config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model_name = config["ProductionVariants"][0]["ModelName"]
        model = sagemaker.describe_model(ModelName=model_name)
    except (BotoCoreError, ClientError, KeyError, IndexError) as exc:
        raise ModelContextError(
            f"cannot find the model endpoint {endpoint!r} serves ({exc}). Fix: deploy a model, "
            "or pass --baseline with the model's drift_baseline.json"
        ) from None
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package = container.get("ModelPackageName")
    if package:
        return _from_package(handle, package)
    url = container.get("ModelDataUrl")
    if not url:
        raise ModelContextError(
            f"model {model_name!r} has neither a model package nor ModelDataUrl. Fix: pass "
            "--baseline with the model's drift_baseline.json"
        )
    baseline = load_baseline(handle, url)
    return ModelContext(baseline, _object_version(handle, url), None, url)


def _from_package(handle: StackHandle, package: str) -> ModelContext:
    sagemaker = handle.client("sagemaker")
    try:
        described = sagemaker.describe_model_package(ModelPackageName=package)
        url = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    except (BotoCoreError, ClientError, KeyError, IndexError) as exc:
        raise ModelContextError(f"cannot read model package {package!r}: {exc}") from None
    return ModelContext(
        baseline=load_baseline(handle, url),
        model_version=described.get("ModelPackageArn", package),
        dataset_version=_dataset_version(described.get("CustomerMetadataProperties") or {}),
        source=url,
    )


def _dataset_version(properties: dict[str, Any]) -> str | None:
    version = properties.get(KEY_DATASET_VERSION)
    if not version:
        return None
    name = properties.get(KEY_DATASET)
    return f"{name}@{version}" if name else str(version)


def _object_version(handle: StackHandle, url: str) -> str:
    parts = urlsplit(url)
    try:
        head = handle.client("s3").head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
    except (BotoCoreError, ClientError):
        return url
    version = head.get("VersionId")
    return f"{url}?versionId={version}" if version and version != "null" else url


def _s3_bytes(handle: StackHandle, bucket: str, key: str, where: str) -> bytes:
    try:
        body: bytes = handle.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise ModelContextError(f"baseline {where}: cannot read it: {exc}") from None
    return body


def _baseline_from_bytes(data: bytes, where: str) -> Baseline:
    if where.endswith((".tar.gz", ".tgz")) or data[:2] == b"\x1f\x8b":
        data = _member(data, where)
    try:
        return Baseline.from_json(data.decode("utf-8"))
    except (BaselineFormatError, UnicodeDecodeError) as exc:
        raise ModelContextError(
            f"baseline {where}: {exc}. Fix: point at the drift_baseline.json written by "
            "ml.drift.fit_baseline when the model was trained"
        ) from None


def _member(archive: bytes, where: str) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar.getmembers():
                if member.isfile() and PurePosixPath(member.name).name == BASELINE_FILENAME:
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        return extracted.read()
    except tarfile.TarError as exc:
        raise ModelContextError(f"model archive {where} is not a tar.gz: {exc}") from None
    raise ModelContextError(
        f"model archive {where} holds no {BASELINE_FILENAME}. Fix: write the baseline into "
        "the model directory at training time, or pass --baseline"
    )
