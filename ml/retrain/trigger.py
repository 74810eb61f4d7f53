"""Send ONE retraining request when a monitoring run crosses the stack's thresholds.

`trigger_retraining(handle, result)` builds the request from the run (`build_request`),
claims its key in the ledger (`ml.retrain.ledger`), sends it to the stack's retraining queue
with the key and reason as message attributes, and confirms the claim with the message id.
A second run with the same key finds the record and sends nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from ml.retrain.ledger import Ledger
from ml.retrain.request import RetrainingRequest, describe

if TYPE_CHECKING:
    from ml.monitor.metrics import MonitoringResult
    from ml.stack import StackHandle

log = logging.getLogger(__name__)

Status = Literal["sent", "duplicate", "in_progress", "not_needed", "no_queue"]


@dataclass(frozen=True)
class TriggerOutcome:
    status: Status
    request: RetrainingRequest | None = None
    message_id: str | None = None
    record: str | None = None
    """s3:// URI of the dedup record."""

    @property
    def sent(self) -> bool:
        return self.status == "sent"

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "key": None if self.request is None else self.request.key,
            "reason": None if self.request is None else self.request.reason,
            "message_id": self.message_id,
            "record": self.record,
        }


def build_request(
    result: MonitoringResult, now: datetime | None = None
) -> RetrainingRequest | None:
    """The run's request, or None when no published metric crosses its threshold."""
    reasons = result.crossed()
    if not reasons:
        return None
    drifted = result.drift.drifted_features if result.drift is not None else ()
    return RetrainingRequest.from_monitor(
        reasons=reasons,
        stack=result.stack,
        time=now or datetime.now(UTC),
        model_version=result.model_version,
        dataset_version=result.dataset_version,
        metrics={**result.metrics(), "rows": float(result.rows)},
        thresholds=result.thresholds.to_dict(),
        drifted_features=drifted,
        window_start=result.window.start,
        window_end=result.window.end,
    )


def request_retraining(
    handle: StackHandle, request: RetrainingRequest, now: datetime | None = None
) -> TriggerOutcome:
    """Queue `request` unless one with its key was queued already."""
    outputs = handle.outputs
    if not outputs.retraining_queue_url:
        log.warning("stack %s has no retraining queue; %s not sent", outputs.stack, request.key)
        return TriggerOutcome("no_queue", request)
    moment = now or datetime.now(UTC)
    ledger = Ledger(handle.client("s3"), outputs.models_bucket, outputs.data_kms_key_arn)
    uri = ledger.request_uri(request.key)
    body = request.model_dump(mode="json")
    claim = ledger.claim(request.key, body, moment)
    if claim is None:
        existing = ledger.get(request.key)
        if existing is not None and not ledger.is_stale(existing, moment):
            status: Status = "duplicate" if existing.status == "sent" else "in_progress"
            return TriggerOutcome(status, request, existing.message_id, uri)
        claim = (
            ledger.take_over(existing, body, moment)
            if existing
            else ledger.claim(request.key, body, moment)
        )
        if claim is None:  # another run got there first
            return TriggerOutcome("in_progress", request, None, uri)
    try:
        answer = handle.client("sqs").send_message(
            QueueUrl=outputs.retraining_queue_url,
            MessageBody=request.to_json(),
            MessageAttributes={
                "request_key": {"DataType": "String", "StringValue": request.key},
                "reason": {"DataType": "String", "StringValue": request.reason},
                "source": {"DataType": "String", "StringValue": request.source},
            },
        )
    except Exception:
        ledger.release(claim)  # so the next run tries again
        raise
    message_id = str(answer["MessageId"])
    ledger.confirm(claim, body, message_id, datetime.now(UTC))
    log.info("queued %s as message %s", describe(request), message_id)
    return TriggerOutcome("sent", request, message_id, uri)


def trigger_retraining(
    handle: StackHandle, result: MonitoringResult, now: datetime | None = None
) -> TriggerOutcome:
    """Build the run's request and queue it once; `not_needed` below every threshold."""
    request = build_request(result, now)
    if request is None:
        return TriggerOutcome("not_needed")
    return request_retraining(handle, request, now)
