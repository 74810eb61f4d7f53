"""Retraining requests: what goes on the stack's retraining queue, and how each is keyed.

Two producers share the queue:

- `ml.monitor` (source "monitor"), when a monitoring run's metrics cross the stack's
  thresholds: the reason, every crossed reason, the metrics, the model and dataset versions,
  the window and the stack.
- the stack's EventBridge rules (source "eventbridge", `infra.retraining`), whose input
  transformer sends `{"reason": "schedule" | "alarm", "alarm": <name or null>,
  "state": <"ALARM" or null>, "time": <event time>, "stack": <prefix>}`. A raw EventBridge
  event (a rule without the transformer) is understood too.

Every request has a deterministic `key`. A monitor request's key is (stack, model version,
UTC day of the window's end): one retraining per model version and day, whichever metrics
crossed and however many hourly runs saw it (a retrained model has a new version, hence a
new key). The reason is deliberately not part of it: drift at 09:00 and low accuracy at
11:00 are two reasons to retrain the same model once. An EventBridge request's key is
(reason, alarm, time, stack), as `infra.retraining` documents, so a redelivered event is
recognised.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ml.monitor.window import iso, utc

Reason = Literal["schedule", "alarm", "accuracy", "feature_drift", "prediction_drift"]
Source = Literal["monitor", "eventbridge"]
EVENTBRIDGE_FIELDS: Final = frozenset({"reason", "alarm", "state", "time", "stack"})
_DIGEST_CHARS = 16


class MessageError(ValueError):
    """A queue message that is not a retraining request; the message says why."""


class RetrainingRequest(BaseModel):
    """One request to retrain a stack's model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="Deterministic identity: what deduplication compares.")
    reason: Reason
    stack: str = Field(description="The stack's name prefix (<project>-<stack>).")
    time: datetime = Field(description="When the trigger happened (UTC).")
    source: Source
    reasons: tuple[Reason, ...] = ()
    alarm: str | None = None
    state: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    drifted_features: tuple[str, ...] = ()
    model_version: str | None = None
    dataset_version: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None

    @field_validator("time", "window_start", "window_end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_monitor(
        cls,
        *,
        reasons: tuple[Reason, ...],
        stack: str,
        time: datetime,
        model_version: str | None,
        **fields: Any,
    ) -> RetrainingRequest:
        if not reasons:
            raise ValueError("a monitor request needs at least one reason")
        day = utc(fields.get("window_end") or time).strftime("%Y-%m-%d")
        return cls(
            key=monitor_key(stack, model_version, day),
            reason=reasons[0],
            reasons=reasons,
            stack=stack,
            time=time,
            source="monitor",
            model_version=model_version,
            **fields,
        )

    @classmethod
    def from_eventbridge(cls, body: dict[str, Any]) -> RetrainingRequest:
        """From the stack's input-transformer shape."""
        reason, time, stack = body.get("reason"), body.get("time"), body.get("stack")
        alarm, state = body.get("alarm") or None, body.get("state") or None
        if reason not in ("schedule", "alarm"):
            raise MessageError(f"EventBridge request reason {reason!r} is not schedule or alarm")
        if not isinstance(stack, str) or not stack or not isinstance(time, str):
            raise MessageError("EventBridge request needs a 'stack' and a 'time' string")
        try:
            return cls(
                key=event_key(reason, alarm, time, stack),
                reason=reason,
                stack=stack,
                time=datetime.fromisoformat(time),
                source="eventbridge",
                reasons=(reason,),
                alarm=alarm,
                state=state,
            )
        except (ValidationError, ValueError) as exc:
            raise MessageError(f"EventBridge request is malformed: {exc}") from None


def monitor_key(stack: str, model_version: str | None, day: str) -> str:
    """`<day>-monitor-<digest of stack and model version>` (S3- and SQS-safe)."""
    return f"{day}-monitor-{_digest(['monitor', stack, model_version or '', day])}"


def event_key(reason: str, alarm: str | None, time: str, stack: str) -> str:
    day = time[:10] if len(time) >= 10 else "unknown"
    return f"{day}-{reason}-{_digest([reason, alarm or '', time, stack])}"


def _digest(parts: list[str]) -> str:
    text = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]


def parse_message(body: str) -> RetrainingRequest:
    """A queue message body as a request, whichever producer sent it."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MessageError(f"message body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MessageError("message body is not a JSON object")
    if "detail-type" in data:
        return _from_raw_event(data)
    if data.get("source") == "monitor":
        try:
            return RetrainingRequest.model_validate(data)
        except ValidationError as exc:
            raise MessageError(f"monitor request is malformed: {_errors(exc)}") from None
    unknown = set(data) - EVENTBRIDGE_FIELDS
    if unknown:
        raise MessageError(
            f"message has field(s) {', '.join(sorted(unknown))}: neither a monitor request "
            f"nor the EventBridge shape ({', '.join(sorted(EVENTBRIDGE_FIELDS))})"
        )
    return RetrainingRequest.from_eventbridge(data)


def _from_raw_event(event: dict[str, Any]) -> RetrainingRequest:
    """A full EventBridge event, as a rule without an input transformer would deliver it."""
    detail_type = event.get("detail-type")
    time = event.get("time")
    stack = event.get("stack")  # never in a raw event; see below
    detail = event.get("detail") or {}
    if detail_type == "Scheduled Event":
        reason, alarm, state = "schedule", None, None
    elif detail_type == "CloudWatch Alarm State Change":
        reason = "alarm"
        alarm = detail.get("alarmName")
        state = (detail.get("state") or {}).get("value")
    else:
        raise MessageError(f"EventBridge event of type {detail_type!r} is not a retraining trigger")
    # A raw event does not name the stack; the rule's name does (`<prefix>-retraining-...`).
    if stack is None:
        resources = event.get("resources") or []
        rule = next((r for r in resources if ":rule/" in r), "")
        name = rule.rsplit("/", 1)[-1]
        stack = name.split("-retraining", 1)[0] if "-retraining" in name else None
    return RetrainingRequest.from_eventbridge(
        {"reason": reason, "alarm": alarm, "state": state, "time": time, "stack": stack}
    )


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}"
        for error in exc.errors(include_url=False)[:3]
    )


def describe(request: RetrainingRequest) -> str:
    """One line for logs and the console."""
    what = ", ".join(request.reasons or (request.reason,))
    if request.alarm:
        what += f" ({request.alarm})"
    return f"{request.key}: retrain {request.stack} for {what} at {iso(request.time)}"
