"""Capture records in SageMaker's format and the buffered writer's flush policy, against an
in-memory stand-in for S3 (the emulator round trip is in test_serve.py)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ml.serve.capture import (
    CaptureConfigError,
    CaptureSettings,
    CaptureWriter,
    capture_location,
    capture_record,
    decoded_data,
    encoded,
    latency_attributes,
)
from tests.ml.test_serve_model import make_outputs

KEY = "arn:aws:kms:us-east-1:123456789012:key/test"
T0 = datetime(2026, 3, 4, 5, 59, 58, 123000, tzinfo=UTC)
T1 = datetime(2026, 3, 4, 6, 0, 1, tzinfo=UTC)


class FakeS3:
    """Records put_object calls; fails the next `failures` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.objects: list[dict[str, Any]] = []
        self.failures = failures

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("S3 is unreachable")
        self.objects.append(kwargs)
        return {}

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for o in self.objects for line in o["Body"].splitlines()]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(when: datetime = T0, inference_id: str = "id-1") -> dict[str, Any]:
    return capture_record(
        request_body=b"25,31000,basic",
        request_content_type="text/csv",
        response_body=b"0.25\n",
        response_content_type="text/csv; charset=utf-8",
        inference_id=inference_id,
        inference_time=when,
        custom_attributes=latency_attributes(0.0015),
    )


def writer(s3: FakeS3, clock: Clock | None = None, **limits: Any) -> CaptureWriter:
    settings = CaptureSettings(bucket="capture", prefix="ep/ep/primary/", kms_key_arn=KEY, **limits)
    return CaptureWriter(s3, settings, clock=clock or Clock())


def test_a_record_has_sagemakers_layout_and_latency() -> None:
    line = record()

    assert line == {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "25,31000,basic",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": "0.25\n",
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": line["eventMetadata"]["eventId"],
            "inferenceId": "id-1",
            "inferenceTime": "2026-03-04T05:59:58Z",
            "customAttributes": "model_latency_ms=1.500",
        },
        "eventVersion": "0",
    }


def test_the_monitor_reads_the_records_the_server_writes() -> None:
    from ml.monitor.capture import parse_line

    parsed = parse_line(json.dumps(record()), ["age", "income", "plan"], "prediction")

    assert parsed.inference_id == "id-1"
    assert parsed.inputs == (("25", "31000", "basic"),)
    assert parsed.latency_ms == pytest.approx(1.5)


def test_json_is_kept_as_text_and_other_types_as_base64() -> None:
    as_json = encoded(b'{"instances": []}', "application/json", "INPUT")
    binary = encoded(b"\x00\x01", "application/x-npy", "INPUT")

    assert (as_json["encoding"], as_json["data"]) == ("JSON", '{"instances": []}')
    assert (binary["encoding"], binary["data"]) == (
        "BASE64",
        base64.b64encode(b"\x00\x01").decode(),
    )
    assert decoded_data(binary) == b"\x00\x01"


def test_captures_go_under_the_endpoint_and_variant_like_sagemakers() -> None:
    outputs = make_outputs(
        endpoint_name="shop-endpoint", endpoint_capture_path="s3://cap-bucket/shop-endpoint/"
    )

    assert capture_location(outputs) == ("cap-bucket", "shop-endpoint/shop-endpoint/primary/")


def test_nothing_is_written_before_a_threshold() -> None:
    s3 = FakeS3()
    w = writer(s3, max_records=3)
    w.add(record())
    w.add(record())

    assert not w.due()
    assert s3.objects == []


def test_reaching_the_record_limit_makes_a_flush_due() -> None:
    s3 = FakeS3()
    w = writer(s3, max_records=2)
    w.add(record())
    w.add(record())

    assert w.due()
    assert w.flush() == 2
    assert w.pending == 0


def test_an_old_enough_record_makes_a_flush_due() -> None:
    clock = Clock()
    w = writer(FakeS3(), clock, max_seconds=30)
    w.add(record())
    clock.now = 29.0
    before = w.due()
    clock.now = 30.0

    assert (before, w.due()) == (False, True)


def test_each_hour_gets_its_own_encrypted_object() -> None:
    s3 = FakeS3()
    w = writer(s3)
    w.add(record(T0, "a"))
    w.add(record(T1, "b"))
    w.flush()

    keys = [o["Key"] for o in s3.objects]
    assert [k.rsplit("/", 1)[0] for k in keys] == [
        "ep/ep/primary/2026/03/04/05",
        "ep/ep/primary/2026/03/04/06",
    ]
    assert re.fullmatch(r"59-58-\d{3}-[0-9a-f-]{36}\.jsonl", keys[0].rsplit("/", 1)[1])
    assert all(k.endswith(".jsonl") for k in keys)
    assert {(o["ServerSideEncryption"], o["SSEKMSKeyId"]) for o in s3.objects} == {("aws:kms", KEY)}
    assert [r["eventMetadata"]["inferenceId"] for r in s3.lines()] == ["a", "b"]


def test_a_failed_write_keeps_the_records_for_the_next_flush() -> None:
    s3 = FakeS3(failures=1)
    w = writer(s3)
    w.add(record(inference_id="kept"))

    assert w.flush() == 0
    assert w.pending == 1
    assert w.flush() == 1
    assert [r["eventMetadata"]["inferenceId"] for r in s3.lines()] == ["kept"]


def test_the_oldest_records_are_dropped_beyond_the_pending_limit() -> None:
    s3 = FakeS3()
    w = writer(s3, max_pending=2)
    for name in ("first", "second", "third"):
        w.add(record(inference_id=name))
    w.flush()

    assert [r["eventMetadata"]["inferenceId"] for r in s3.lines()] == ["second", "third"]


def test_close_writes_what_is_pending() -> None:
    s3 = FakeS3()
    w = writer(s3)
    w.start()
    w.add(record())
    w.close()

    assert len(s3.lines()) == 1


@pytest.mark.parametrize(
    ("percent", "draw", "captured"),
    [(0, 0.0, False), (100, 0.999, True), (25, 0.24, True), (25, 0.25, False)],
)
def test_sampling_captures_the_configured_percent(
    percent: float, draw: float, captured: bool
) -> None:
    settings = CaptureSettings(bucket="b", prefix="p/", kms_key_arn=KEY, percent=percent)

    assert CaptureWriter(FakeS3(), settings, sampler=lambda: draw).sampled() is captured


def test_capture_without_a_kms_key_is_refused() -> None:
    with pytest.raises(CaptureConfigError, match="SSE-KMS"):
        CaptureSettings(bucket="b", prefix="p/", kms_key_arn="")
