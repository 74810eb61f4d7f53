"""Model serving with SageMaker's inference container contract, and data capture in
SageMaker's format where SageMaker does not run the container.

    python -m ml.serve [serve] [--model-dir DIR | --model-data s3://...] [--port N] ...
    start_local_endpoint(handle, model_data_url, state_dir=d) -> LocalEndpoint(url, pid)

Modules: `server` (entry point), `app` (routes), `model` (artifact contract), `payload`
(request/response bodies), `capture` (capture records and their S3 writer), `metrics`
(Prometheus), `artifact` (download and unpack), `local` (sandbox endpoints).
"""

from ml.serve.artifact import ModelArtifactError, download_model, extract_model
from ml.serve.capture import (
    LATENCY_ATTRIBUTE,
    VARIANT,
    CaptureSettings,
    CaptureWriter,
    capture_location,
    capture_record,
    decoded_data,
)
from ml.serve.local import (
    LocalEndpoint,
    LocalEndpointError,
    attach,
    start_local_endpoint,
    stop_local_endpoint,
)
from ml.serve.model import FeatureSpec, ModelLoadError, ServedModel
from ml.serve.payload import PayloadError

__all__ = [
    "LATENCY_ATTRIBUTE",
    "VARIANT",
    "CaptureSettings",
    "CaptureWriter",
    "FeatureSpec",
    "LocalEndpoint",
    "LocalEndpointError",
    "ModelArtifactError",
    "ModelLoadError",
    "PayloadError",
    "ServedModel",
    "attach",
    "capture_location",
    "capture_record",
    "decoded_data",
    "download_model",
    "extract_model",
    "start_local_endpoint",
    "stop_local_endpoint",
]
