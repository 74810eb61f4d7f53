"""Retraining requests on the queue: the monitor's shape and EventBridge's, and their keys."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from infra.retraining import request_transformer
from ml.retrain import MessageError, RetrainingRequest, monitor_key, parse_message

PREFIX = "mlops-platform-dev"


def _render(template: str, values: dict[str, str]) -> str:
    """What EventBridge's input transformer produces from the stack's template."""
    for name, value in values.items():
        template = template.replace(f"<{name}>", value)
    return template


def test_schedule_message_from_the_stacks_transformer_parses() -> None:
    _, template = request_transformer("schedule", PREFIX)
    body = _render(template, {"time": "2024-05-01T03:00:00Z"})

    request = parse_message(body)

    assert (request.reason, request.source, request.stack) == ("schedule", "eventbridge", PREFIX)
    assert (request.alarm, request.state) == (None, None)
    assert request.time == datetime.fromisoformat("2024-05-01T03:00:00Z")
    assert request.key.startswith("2024-05-01-schedule-")


def test_alarm_message_from_the_stacks_transformer_parses() -> None:
    paths, template = request_transformer("alarm", PREFIX)
    assert set(paths) == {"time", "alarm", "state"}
    body = _render(
        template,
        {
            "time": "2024-05-01T10:12:00Z",
            "alarm": f"{PREFIX}-alarm-feature-drift",
            "state": "ALARM",
        },
    )

    request = parse_message(body)

    assert (request.reason, request.alarm, request.state) == (
        "alarm",
        f"{PREFIX}-alarm-feature-drift",
        "ALARM",
    )
    # A redelivered event has the same key; another alarm or time has another.
    assert parse_message(body).key == request.key
    other = parse_message(body.replace("10:12:00", "11:12:00"))
    assert other.key != request.key


def test_raw_eventbridge_events_parse_too() -> None:
    alarm = {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "time": "2024-05-01T10:12:00Z",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{PREFIX}-retraining-alarm"],
        "detail": {"alarmName": f"{PREFIX}-alarm-accuracy", "state": {"value": "ALARM"}},
    }
    request = parse_message(json.dumps(alarm))
    assert (request.reason, request.alarm, request.state, request.stack) == (
        "alarm",
        f"{PREFIX}-alarm-accuracy",
        "ALARM",
        PREFIX,
    )
    scheduled = {**alarm, "detail-type": "Scheduled Event", "detail": {}}
    assert parse_message(json.dumps(scheduled)).reason == "schedule"


def test_monitor_requests_round_trip_and_are_keyed_by_model_and_day() -> None:
    request = RetrainingRequest.from_monitor(
        reasons=("accuracy", "feature_drift"),
        stack=PREFIX,
        time=datetime.fromisoformat("2024-05-01T10:30:00Z"),
        model_version="arn:aws:sagemaker:us-east-1:123456789012:model-package/g/3",
        dataset_version="ds-7",
        metrics={"Accuracy": 0.61, "FeatureDrift": 0.44},
        window_end=datetime.fromisoformat("2024-05-01T11:00:00Z"),
    )

    assert parse_message(request.to_json()) == request
    assert request.reason == "accuracy"
    assert request.key == monitor_key(PREFIX, request.model_version, "2024-05-01")
    assert "/" not in request.key and ":" not in request.key  # usable as an S3 key part
    assert monitor_key(PREFIX, "v4", "2024-05-01") != monitor_key(PREFIX, "v3", "2024-05-01")
    assert monitor_key(PREFIX, "v3", "2024-05-02") != monitor_key(PREFIX, "v3", "2024-05-01")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"reason": "whim", "time": "2024-05-01T00:00:00Z", "stack": "s"}', "not schedule"),
        ('{"reason": "schedule", "stack": "s"}', "needs a 'stack' and a 'time'"),
        ('{"reason": "schedule", "time": "x", "stack": "s", "extra": 1}', "field(s) extra"),
        ('{"source": "monitor", "reason": "accuracy"}', "monitor request is malformed"),
        ('{"detail-type": "EC2 Instance State-change Notification"}', "not a retraining"),
    ],
)
def test_anything_else_is_rejected_with_the_reason(body: str, message: str) -> None:
    with pytest.raises(MessageError, match=re.escape(message)):
        parse_message(body)
