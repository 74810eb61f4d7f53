"""Capture records in SageMaker's format: CSV, JSON, JSON Lines and base64 payloads,
batches, and malformed lines that are reported and skipped."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from ml.monitor import (
    CaptureFormatError,
    Window,
    encode_record,
    parse_line,
    read_capture_files,
    read_lines,
)
from ml.monitor.window import WindowError, parse_duration
from tests.ml.test_monitor_support import FIXTURES, WINDOW_END, WINDOW_START, baseline

FEATURES = ("age", "income", "plan")
WINDOW = Window(WINDOW_START, WINDOW_END)


def _line(**overrides: object) -> str:
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "34,52000,basic",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": "0",
                "encoding": "CSV",
            },
        },
        "eventMetadata": {"eventId": "e-1", "inferenceTime": "2024-05-01T10:00:00Z"},
        "eventVersion": "0",
    }
    record.update(overrides)
    return json.dumps(record)


def test_fixture_lines_have_sagemakers_shape() -> None:
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for text in path.read_text().splitlines():
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                continue  # the deliberately truncated line
            assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
            assert record["eventVersion"] == "0"
            for payload in record["captureData"].values():
                assert set(payload) == {"observedContentType", "mode", "data", "encoding"}
                assert payload["encoding"] in {"CSV", "JSON", "BASE64"}
                assert payload["mode"] in {"INPUT", "OUTPUT"}
            assert {"eventId", "inferenceTime"} <= set(record["eventMetadata"])


def test_fixtures_read_with_malformed_lines_reported_and_skipped() -> None:
    batch = read_capture_files(sorted(FIXTURES.glob("*.jsonl")), baseline(), WINDOW)

    assert (batch.records, batch.rows, batch.outside_window) == (6, 13, 1)
    skipped = {(line.source.rsplit("/", 1)[-1], line.line): line.reason for line in batch.skipped}
    assert set(skipped) == {
        ("csv-batches.jsonl", 4),
        ("csv-batches.jsonl", 5),
        ("csv-batches.jsonl", 6),
        ("json-and-jsonlines.jsonl", 4),
    }
    assert "not valid JSON" in skipped["csv-batches.jsonl", 4]
    assert "1 prediction(s) for 2 input row(s)" in skipped["csv-batches.jsonl", 5]
    assert "4 value(s); the baseline has 3 feature(s)" in skipped["csv-batches.jsonl", 6]
    assert "application/x-npy" in skipped["json-and-jsonlines.jsonl", 4]
    # Columns come in the baseline's order, typed by its kinds.
    assert list(batch.frame.columns) == ["age", "income", "plan", "churn"]
    assert batch.frame["age"].dtype == "float64"
    assert batch.frame["age"].tolist()[:3] == [34.0, 51.0, 29.0]
    assert batch.latencies_ms == (12.5, 20.0)


def test_batches_keep_their_inference_id_and_row_index() -> None:
    batch = read_capture_files([FIXTURES / "csv-batches.jsonl"], baseline())
    first = batch.meta[batch.meta["join_id"] == "req-001"]
    assert first["row"].tolist() == [0, 1, 2]
    assert batch.frame.loc[first.index, "churn"].tolist() == ["0", "1", "0"]


def test_base64_csv_input_and_json_output_decode() -> None:
    line = _line(
        captureData={
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": base64.b64encode(b"38,50000,basic\n62,90000,enterprise").decode(),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": base64.b64encode(b'{"predictions": [0, 1]}').decode(),
                "encoding": "BASE64",
            },
        }
    )
    record = parse_line(line, FEATURES, "churn")
    assert record.inputs == (("38", "50000", "basic"), ("62", "90000", "enterprise"))
    assert record.predictions == (0, 1)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"instances": [[1, 2, "a"], [3, 4, "b"]]}, ((1, 2, "a"), (3, 4, "b"))),
        ({"instances": [{"features": [1, 2, "a"]}]}, ((1, 2, "a"),)),
        ([{"age": 1, "plan": "a"}], ((1, None, "a"),)),
        ({"age": 5, "income": 6, "plan": "c"}, ((5, 6, "c"),)),
        ([7, 8, "d"], ((7, 8, "d"),)),
    ],
)
def test_json_instance_shapes(payload: object, expected: tuple[tuple[object, ...], ...]) -> None:
    n = len(expected)
    line = _line(
        captureData={
            "endpointInput": {
                "observedContentType": "application/json",
                "mode": "INPUT",
                "data": json.dumps(payload),
                "encoding": "JSON",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps({"predictions": [{"churn": 1, "score": 0.9}] * n}),
                "encoding": "JSON",
            },
        }
    )
    record = parse_line(line, FEATURES, "churn")
    assert record.inputs == expected
    assert record.predictions == (1,) * n


def test_one_line_of_comma_separated_predictions_answers_a_batch() -> None:
    line = _line(
        captureData={
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,2,a\n3,4,b\n5,6,c",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": "0.1,0.7,0.4",
                "encoding": "CSV",
            },
        }
    )
    assert parse_line(line, FEATURES, "churn").predictions == ("0.1", "0.7", "0.4")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"eventVersion": "1"}, "eventVersion '1' is not supported"),
        ({"eventMetadata": {"eventId": "e"}}, "eventMetadata.inferenceTime: Field required"),
        ({"captureData": {}}, "captureData.endpointInput: Field required"),
        (
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": "1,2,a",
                        "encoding": "GZIP",
                    }
                }
            },
            "encoding 'GZIP' is not one of CSV, JSON, BASE64",
        ),
        (
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": "%%%not-base64",
                        "encoding": "BASE64",
                    }
                }
            },
            "BASE64 data does not decode",
        ),
    ],
)
def test_malformed_records_say_why(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(CaptureFormatError, match=reason):
        parse_line(_line(**overrides), FEATURES, "churn")


def test_read_lines_skips_bad_lines_and_keeps_reading() -> None:
    lines = [_line(), "{", "", _line(eventVersion="9"), _line()]
    records, skipped = read_lines(lines, "mem.jsonl", FEATURES, "churn")
    assert len(records) == 2
    assert [(s.source, s.line) for s in skipped] == [("mem.jsonl", 2), ("mem.jsonl", 4)]
    assert str(skipped[0]).startswith("mem.jsonl:2: not valid JSON")


def test_input_only_capture_has_no_predictions() -> None:
    record = json.loads(_line())
    del record["captureData"]["endpointOutput"]
    assert parse_line(json.dumps(record), FEATURES, "churn").predictions is None


def test_encode_record_round_trips_and_matches_the_fixture_layout() -> None:
    when = datetime.fromisoformat("2024-05-01T10:05:12Z")
    line = encode_record(
        input_data="34,52000,basic\n51,61000,pro\n29,38000,basic\n",
        input_content_type="text/csv",
        output_data="0\n1\n0\n",
        inference_time=when,
        inference_id="req-001",
        event_id="7f1c2a9e-0b1d-4d6e-9a51-2f0c3b8d1e01",
    )
    fixture = (FIXTURES / "csv-batches.jsonl").read_text().splitlines()[0]
    assert line == fixture
    encoded = encode_record(
        input_data="1,2,a",
        input_content_type="text/csv",
        output_data='{"predictions": [1]}',
        output_content_type="application/json",
        inference_time=when,
        custom_attributes="model_latency_ms=7.5",
        base64_encode=True,
    )
    payloads = json.loads(encoded)["captureData"]
    assert {p["encoding"] for p in payloads.values()} == {"BASE64"}
    record = parse_line(encoded, FEATURES, "churn")
    assert (record.inputs, record.predictions, record.latency_ms) == ((("1", "2", "a"),), (1,), 7.5)
    assert record.join_id == record.event_id  # no inference id: labels join on the event id


def test_window_hours_and_durations() -> None:
    window = Window.last("90m", datetime.fromisoformat("2024-05-01T11:30:00Z"))
    assert [h.hour for h in window.hours()] == [10, 11]
    assert window.day == "2024-05-01"
    assert parse_duration("7d").days == 7
    with pytest.raises(WindowError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(WindowError, match="not after its start"):
        Window(WINDOW_END, WINDOW_START)
