"""SageMaker data capture records: read them line by line, and write them in the same format.

Each line of a capture file is one request, exactly as SageMaker writes it:

    {"captureData": {
        "endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                           "data": "34,52000,basic\\n51,61000,pro", "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                           "data": "0\\n1", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "...Z"},
     "eventVersion": "0"}

`inferenceId` is present when the caller passed `InferenceId` to InvokeEndpoint (it is what
ground-truth labels are joined on). `eventMetadata.customAttributes` is not written by
SageMaker itself: a serving stack that writes its own capture files (the Kubernetes path)
puts the container's `CustomAttributes` answer there, and `model_latency_ms=<float>` in it
gives per-request latency (see `LATENCY_ATTRIBUTE`).

A line that cannot be used is returned as a `SkippedLine` (file, line number, why) and the
rest of the file is still read: one bad record never hides a window's worth of good ones.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ml.monitor.payload import PayloadError, decode, input_rows, media_format, output_values
from ml.monitor.window import iso, utc

EVENT_VERSION: Final = "0"
LATENCY_ATTRIBUTE: Final = "model_latency_ms"
"""Custom attribute (`key=value`) in which a serving container reports its model latency."""
_ATTRIBUTE_SEPARATORS = re.compile(r"[;,]")
_MAX_REASON_ERRORS = 3


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    observed_content_type: str = Field(alias="observedContentType")
    mode: Literal["INPUT", "OUTPUT"]
    data: str
    encoding: str


class _CaptureData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    endpoint_input: _Payload = Field(alias="endpointInput")
    endpoint_output: _Payload | None = Field(default=None, alias="endpointOutput")


class _EventMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(alias="eventId")
    inference_id: str | None = Field(default=None, alias="inferenceId")
    inference_time: datetime = Field(alias="inferenceTime")
    custom_attributes: str | list[str] | dict[str, Any] | None = Field(
        default=None, alias="customAttributes"
    )


class _CaptureLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    capture_data: _CaptureData = Field(alias="captureData")
    event_metadata: _EventMetadata = Field(alias="eventMetadata")
    event_version: str = Field(alias="eventVersion")


@dataclass(frozen=True)
class CaptureRecord:
    """One captured request: its rows (aligned with the baseline features) and predictions."""

    event_id: str
    inference_id: str | None
    inference_time: datetime
    inputs: tuple[tuple[Any, ...], ...]
    """One tuple per row of the request, values in the baseline's feature order."""
    predictions: tuple[Any, ...] | None
    """One prediction per row, or None when the output was not captured."""
    latency_ms: float | None
    """Model latency the serving container reported for the request, if it did."""

    @property
    def join_id(self) -> str:
        """What labels are joined on: the caller's inference id, else SageMaker's event id."""
        return self.inference_id or self.event_id


@dataclass(frozen=True)
class SkippedLine:
    """A capture line that was not used, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason}


class CaptureFormatError(ValueError):
    """A line that is not a usable SageMaker capture record; the message says why."""


def parse_line(text: str, features: Sequence[str], prediction: str) -> CaptureRecord:
    """One capture line as a record; raises `CaptureFormatError`."""
    try:
        line = _CaptureLine.model_validate_json(text)
    except ValidationError as exc:
        raise CaptureFormatError(_validation_reason(exc)) from None
    if line.event_version != EVENT_VERSION:
        raise CaptureFormatError(
            f"eventVersion {line.event_version!r} is not supported (this reader knows "
            f"{EVENT_VERSION!r})"
        )
    request, response = line.capture_data.endpoint_input, line.capture_data.endpoint_output
    try:
        text_in, fmt_in = decode(request.data, request.encoding, request.observed_content_type)
        rows = input_rows(text_in, fmt_in, features)
        predictions = None
        if response is not None:
            text_out, fmt_out = decode(
                response.data, response.encoding, response.observed_content_type
            )
            predictions = tuple(output_values(text_out, fmt_out, prediction, len(rows)))
    except PayloadError as exc:
        raise CaptureFormatError(str(exc)) from None
    metadata = line.event_metadata
    return CaptureRecord(
        event_id=metadata.event_id,
        inference_id=metadata.inference_id or None,
        inference_time=utc(metadata.inference_time),
        inputs=tuple(rows),
        predictions=predictions,
        latency_ms=latency_attribute(metadata.custom_attributes),
    )


def read_lines(
    lines: Iterable[str], source: str, features: Sequence[str], prediction: str
) -> tuple[list[CaptureRecord], list[SkippedLine]]:
    """Every usable record of a capture file, and the lines skipped (blank lines ignored)."""
    records: list[CaptureRecord] = []
    skipped: list[SkippedLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            records.append(parse_line(text, features, prediction))
        except CaptureFormatError as exc:
            skipped.append(SkippedLine(source, number, str(exc)))
    return records, skipped


def latency_attribute(attributes: str | Sequence[str] | Mapping[str, Any] | None) -> float | None:
    """`model_latency_ms` from custom attributes: `"k=v;k2=v2"`, a list of those, or a map."""
    if attributes is None:
        return None
    pairs: dict[str, Any]
    if isinstance(attributes, Mapping):
        pairs = dict(attributes)
    else:
        texts = [attributes] if isinstance(attributes, str) else list(attributes)
        pairs = {}
        for text in texts:
            for part in _ATTRIBUTE_SEPARATORS.split(text):
                key, sep, value = part.partition("=")
                if sep:
                    pairs[key.strip()] = value.strip()
    try:
        value = float(pairs[LATENCY_ATTRIBUTE])
    except (KeyError, TypeError, ValueError):
        return None
    return value if value >= 0 else None


def encode_record(
    *,
    input_data: str | bytes,
    input_content_type: str,
    output_data: str | bytes | None,
    output_content_type: str = "text/csv; charset=utf-8",
    inference_time: datetime,
    inference_id: str | None = None,
    event_id: str | None = None,
    custom_attributes: str | None = None,
    base64_encode: bool = False,
) -> str:
    """One capture line in SageMaker's format (what a self-hosted server should write).

    CSV and JSON payloads are recorded as text, like an endpoint whose
    `CaptureContentTypeHeader` lists their types; `base64_encode=True` (or bytes) records
    them as BASE64, like any other content type.
    """
    metadata: dict[str, Any] = {"eventId": event_id or str(uuid.uuid4())}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = iso(inference_time)
    if custom_attributes is not None:
        metadata["customAttributes"] = custom_attributes
    capture: dict[str, Any] = {
        "endpointInput": _payload("INPUT", input_data, input_content_type, base64_encode)
    }
    if output_data is not None:
        capture["endpointOutput"] = _payload(
            "OUTPUT", output_data, output_content_type, base64_encode
        )
    line = {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}
    return json.dumps(line, separators=(",", ":"))


def _payload(
    mode: str, data: str | bytes, content_type: str, base64_encode: bool
) -> dict[str, str]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if base64_encode or isinstance(data, bytes):
        text, encoding = base64.b64encode(raw).decode("ascii"), "BASE64"
    else:
        fmt = media_format(content_type)
        text, encoding = raw.decode("utf-8"), "CSV" if fmt == "csv" else "JSON"
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def _validation_reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"not valid JSON: {errors[0]['msg']}"
    parts = []
    for error in errors[:_MAX_REASON_ERRORS]:
        where = ".".join(str(part) for part in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    more = len(errors) - _MAX_REASON_ERRORS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
