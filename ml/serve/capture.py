"""Data capture in SageMaker's own format, for endpoints SageMaker does not run.

A real endpoint captures requests itself (the stack's DataCaptureConfig). The local server
(sandbox stacks, Kubernetes) writes the same records to the same place, so `ml.monitor`
reads one format whatever served the model.

Where: SageMaker appends the endpoint name and the variant to the configured destination
(`endpoint_capture_path`, `s3://<capture bucket>/<endpoint>/`), so files land under

    <endpoint_capture_path><endpoint name>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<fff>-<uuid>.jsonl

(hour of the records' inferenceTime, UTC), encrypted with SSE-KMS under the stack's data key.
`capture_location` computes the bucket and prefix.

What: one JSON object per line, per captured invocation (successful ones only: a rejected
payload says nothing about the model's inputs)::

    {"captureData": {
        "endpointInput":  {"observedContentType": <request Content-Type as sent>,
                           "mode": "INPUT", "data": <body>, "encoding": "CSV"|"JSON"|"BASE64"},
        "endpointOutput": {"observedContentType": <response Content-Type>,
                           "mode": "OUTPUT", "data": <body>, "encoding": "CSV"|"JSON"|"BASE64"}},
     "eventMetadata": {"eventId": <uuid4>, "inferenceId": <X-Amzn-SageMaker-Inference-Id, else
                       a generated uuid4>, "inferenceTime": "YYYY-MM-DDTHH:MM:SSZ",
                       "customAttributes": "model_latency_ms=<milliseconds, 3 decimals>"},
     "eventVersion": "0"}

`data` is the body text for text/csv (encoding CSV) and application/json (JSON), as
`infra.endpoint.CAPTURE_CONTENT_TYPES` configures SageMaker; any other type is base64.
`customAttributes` is the one field SageMaker does not write itself: the custom attributes
the container answered with (header `X-Amzn-SageMaker-Custom-Attributes`), which carry
`model_latency_ms`, the server's time from request body to response body (parse, predict,
render). `ml.monitor.capture.latency_attribute` reads it; readers that do not know the
field ignore it.

Records are buffered and written in batches: when `max_records` or `max_bytes` are pending,
when the oldest pending record is `max_seconds` old, and at shutdown (`close`). A failed
write keeps the records for the next attempt; beyond `max_pending` the oldest are dropped
and counted, so a long S3 outage cannot exhaust memory.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from infra.outputs import StackOutputs

if TYPE_CHECKING:
    from ml.serve.metrics import ServingMetrics

log = logging.getLogger(__name__)

VARIANT: Final = "primary"  # infra.endpoint.VARIANT_NAME: the stack's only variant
EVENT_VERSION: Final = "0"
CUSTOM_ATTRIBUTES_FIELD: Final = "customAttributes"
LATENCY_ATTRIBUTE: Final = "model_latency_ms"  # the key ml.monitor.capture reads
CSV_CONTENT_TYPES: Final = ("text/csv",)
JSON_CONTENT_TYPES: Final = ("application/json",)

Mode = Literal["INPUT", "OUTPUT"]


class CaptureConfigError(ValueError):
    """The capture settings are unusable (bad path, percent out of range)."""


def capture_location(outputs: StackOutputs, variant: str = VARIANT) -> tuple[str, str]:
    """(bucket, key prefix ending in "/") where the stack's endpoint captures go."""
    path = outputs.endpoint_capture_path
    if not path.startswith("s3://"):
        raise CaptureConfigError(
            f"endpoint_capture_path {path!r} of stack {outputs.stack!r} is not an s3:// URL"
        )
    bucket, _, prefix = path.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    parts = [part for part in (prefix, outputs.endpoint_name, variant) if part]
    return bucket, "/".join(parts) + "/"


def capture_key(prefix: str, when: datetime) -> str:
    """`<prefix>yyyy/mm/dd/hh/<mm>-<ss>-<fff>-<uuid>.jsonl` for records of `when`'s hour."""
    when = when.astimezone(UTC)
    name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return f"{prefix}{when:%Y/%m/%d/%H}/{name}"


def encoded(data: bytes, content_type: str, mode: Mode) -> dict[str, str]:
    """One side of `captureData`: text for CSV and JSON types, else base64."""
    kind = content_type.split(";", 1)[0].strip().lower()
    encoding = "CSV" if kind in CSV_CONTENT_TYPES else "JSON" if kind in JSON_CONTENT_TYPES else ""
    if encoding:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = ""
    if not encoding:
        encoding, text = "BASE64", base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def capture_record(
    *,
    request_body: bytes,
    request_content_type: str,
    response_body: bytes,
    response_content_type: str,
    inference_id: str,
    inference_time: datetime,
    custom_attributes: str,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One captured invocation, exactly as laid out in the module docstring."""
    return {
        "captureData": {
            "endpointInput": encoded(request_body, request_content_type, "INPUT"),
            "endpointOutput": encoded(response_body, response_content_type, "OUTPUT"),
        },
        "eventMetadata": {
            "eventId": event_id or str(uuid.uuid4()),
            "inferenceId": inference_id,
            "inferenceTime": inference_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            CUSTOM_ATTRIBUTES_FIELD: custom_attributes,
        },
        "eventVersion": EVENT_VERSION,
    }


def latency_attributes(latency_seconds: float) -> str:
    """The custom attributes the server answers with: `model_latency_ms=1.234`."""
    return f"{LATENCY_ATTRIBUTE}={latency_seconds * 1000:.3f}"


def decoded_data(side: Mapping[str, Any]) -> bytes:
    """The body of one `captureData` side, whatever its encoding (for readers and tests)."""
    if side["encoding"] == "BASE64":
        return base64.b64decode(side["data"])
    return str(side["data"]).encode("utf-8")


@dataclass(frozen=True)
class CaptureSettings:
    bucket: str
    prefix: str
    """Key prefix ending in "/" (see `capture_location`)."""
    kms_key_arn: str
    """SSE-KMS key of every object written (the stack's data key)."""
    percent: float = 100.0
    """Share of invocations captured, like DataCaptureConfig's InitialSamplingPercentage."""
    max_records: int = 1000
    max_bytes: int = 4 * 1024 * 1024
    max_seconds: float = 60.0
    max_pending: int = 100_000

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise CaptureConfigError(f"capture percent {self.percent} is outside 0..100")
        if not self.kms_key_arn:
            raise CaptureConfigError(
                "no KMS key for captured data: it is production data and must be written "
                "with SSE-KMS. Fix: pass the stack's data_kms_key_arn"
            )
        if self.max_records < 1 or self.max_bytes < 1 or self.max_seconds <= 0:
            raise CaptureConfigError("capture flush thresholds must be positive")

    @classmethod
    def for_stack(
        cls, outputs: StackOutputs, *, variant: str = VARIANT, **limits: Any
    ) -> CaptureSettings:
        bucket, prefix = capture_location(outputs, variant)
        return cls(bucket=bucket, prefix=prefix, kms_key_arn=outputs.data_kms_key_arn, **limits)


@dataclass
class _Pending:
    hour: datetime
    line: bytes
    since: float


class CaptureWriter:
    """Buffers capture records and writes them as JSONL objects to S3 with SSE-KMS."""

    def __init__(
        self,
        s3: Any,
        settings: CaptureSettings,
        *,
        metrics: ServingMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sampler: Callable[[], float] = random.random,
    ) -> None:
        self.s3 = s3
        self.settings = settings
        self.metrics = metrics
        self._clock = clock
        self._sampler = sampler
        self._pending: list[_Pending] = []
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time (worker, close, caller)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # --- recording --------------------------------------------------------------------

    def sampled(self) -> bool:
        """Whether to capture this invocation (decided per request, before answering)."""
        return self._sampler() * 100 < self.settings.percent

    def add(self, record: Mapping[str, Any]) -> None:
        """Queue one record; wakes the writer when a size threshold is reached."""
        inference_time = datetime.strptime(
            record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=UTC)
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        dropped = 0
        with self._lock:
            self._pending.append(_Pending(inference_time, line, self._clock()))
            self._pending_bytes += len(line)
            while len(self._pending) > self.settings.max_pending:
                self._pending_bytes -= len(self._pending.pop(0).line)
                dropped += 1
            full = self._full()
        if self.metrics:
            self.metrics.capture_records.labels(outcome="buffered").inc()
            if dropped:
                self.metrics.capture_records.labels(outcome="dropped").inc(dropped)
        if full:
            self._wake.set()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def due(self) -> bool:
        """Whether a flush is due: a size threshold reached or the oldest record too old."""
        with self._lock:
            if not self._pending:
                return False
            return (
                self._full() or self._clock() - self._pending[0].since >= self.settings.max_seconds
            )

    def _full(self) -> bool:
        return (
            len(self._pending) >= self.settings.max_records
            or self._pending_bytes >= self.settings.max_bytes
        )

    # --- writing ----------------------------------------------------------------------

    def flush(self) -> int:
        """Write every pending record (one object per hour); returns how many were written.
        On a failed write the unwritten records stay pending for the next flush."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending, self._pending_bytes = self._pending, [], 0
            written = 0
            by_hour: dict[tuple[int, int, int, int], list[_Pending]] = {}
            for item in batch:
                by_hour.setdefault(_hour(item.hour), []).append(item)
            failed: list[_Pending] = []
            for items in by_hour.values():
                if failed or not self._put(items):
                    failed.extend(items)  # keep the order; retry everything later
                else:
                    written += len(items)
            if failed:
                with self._lock:
                    self._pending[:0] = failed
                    self._pending_bytes += sum(len(item.line) for item in failed)
            if self.metrics and written:
                self.metrics.capture_records.labels(outcome="written").inc(written)
            return written

    def _put(self, items: list[_Pending]) -> bool:
        key = capture_key(self.settings.prefix, items[0].hour)
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=b"".join(item.line for item in items),
                ContentType="application/jsonl",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.settings.kms_key_arn,
            )
        except Exception as error:  # any S3 failure: keep the records, try again later
            log.warning(
                "capture: writing %d records to s3://%s/%s failed (%s); will retry",
                len(items),
                self.settings.bucket,
                key,
                error,
            )
            if self.metrics:
                self.metrics.capture_flush_errors.inc()
            return False
        log.debug("capture: wrote %d records to s3://%s/%s", len(items), self.settings.bucket, key)
        return True

    # --- background flushing ----------------------------------------------------------

    def start(self) -> None:
        """Flush in a background thread whenever `due()`; idempotent."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="capture-writer", daemon=True)
            self._worker.start()

    def close(self) -> None:
        """Stop the background thread and write what is pending (called at shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self.flush()
        left = self.pending
        if left:
            log.error("capture: %d records could not be written at shutdown and are lost", left)
            if self.metrics:
                self.metrics.capture_records.labels(outcome="dropped").inc(left)

    def _run(self) -> None:
        tick = min(1.0, self.settings.max_seconds)
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if not self._stop.is_set() and self.due():
                self.flush()


def _hour(when: datetime) -> tuple[int, int, int, int]:
    return (when.year, when.month, when.day, when.hour)
