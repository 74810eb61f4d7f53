"""Consume retraining requests: hand each to the pipeline, delete it only after success.

A message is deleted when the pipeline returns. When the pipeline raises, or the message is
not a request, it stays on the queue: it becomes visible again after the queue's visibility
timeout (an hour on the stack's queue, `retry_after` seconds if given), and after the
queue's `maxReceiveCount` receives (3) SQS moves it to the dead-letter queue for inspection.

Requests are deduplicated on the consumer side too: a key that the ledger records as
consumed (a redelivered message, or the same EventBridge event twice) is deleted without
running the pipeline again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ml.monitor.quality import stack_prefix
from ml.retrain.ledger import Ledger
from ml.retrain.request import MessageError, RetrainingRequest, describe, parse_message
from ml.stack import StackHandle

log = logging.getLogger(__name__)

Pipeline = Callable[[RetrainingRequest, StackHandle], Any]
"""Runs one retraining; returning means success, raising means failure (kept for retry)."""

MAX_BATCH: Final = 10  # SQS's most messages per receive
DEFAULT_WAIT_SECONDS: Final = 20  # long polling: SQS's maximum, the stack queue's default

Outcome = Literal["succeeded", "failed", "duplicate", "malformed"]


@dataclass(frozen=True)
class Handled:
    message_id: str
    outcome: Outcome
    key: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "outcome": self.outcome,
            "key": self.key,
            "detail": self.detail,
        }


@dataclass
class ConsumeSummary:
    handled: list[Handled] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.handled if item.outcome == outcome)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and self.count("malformed") == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "handled": [item.to_dict() for item in self.handled],
            **{o: self.count(o) for o in ("succeeded", "failed", "duplicate", "malformed")},
        }


class NoRetrainingQueue(LookupError):
    """The stack has no retraining queue (retraining disabled in its config)."""


def consume(
    handle: StackHandle,
    pipeline: Pipeline,
    *,
    max_messages: int = MAX_BATCH,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
    retry_after: int | None = None,
) -> ConsumeSummary:
    """Receive up to `max_messages` requests and run the pipeline for each, one at a time."""
    outputs = handle.outputs
    queue = outputs.retraining_queue_url
    if not queue:
        raise NoRetrainingQueue(
            f"stack {outputs.stack!r} has no retraining queue (retraining_queue_url is empty). "
            "Fix: enable retraining in the stack's config and deploy it"
        )
    sqs = handle.client("sqs")
    ledger = Ledger(handle.client("s3"), outputs.models_bucket, outputs.data_kms_key_arn)
    prefix = stack_prefix(outputs)
    summary = ConsumeSummary()
    retry: list[str] = []
    received = 0
    while received < max_messages:
        answer = sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=min(MAX_BATCH, max_messages - received),
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        received += len(messages)
        for message in messages:
            handled = _handle(message, handle, pipeline, ledger, prefix)
            summary.handled.append(handled)
            if handled.outcome in ("succeeded", "duplicate"):
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            else:
                retry.append(message["ReceiptHandle"])
    # Only after the run: a failure made visible at once would come back within this run.
    for receipt in retry if retry_after is not None else ():
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=receipt, VisibilityTimeout=retry_after
        )
    return summary


def _handle(
    message: dict[str, Any],
    handle: StackHandle,
    pipeline: Pipeline,
    ledger: Ledger,
    prefix: str,
) -> Handled:
    message_id = str(message.get("MessageId", ""))
    try:
        request = parse_message(message.get("Body", ""))
    except MessageError as exc:
        log.error("message %s is not a retraining request, left for the DLQ: %s", message_id, exc)
        return Handled(message_id, "malformed", detail=str(exc))
    if request.stack != prefix:
        detail = f"request for stack {request.stack!r} on the queue of {prefix!r}"
        log.error("message %s: %s; left for the DLQ", message_id, detail)
        return Handled(message_id, "malformed", request.key, detail)
    if ledger.consumed(request.key):
        log.info("%s was already retrained; deleting the duplicate", request.key)
        return Handled(message_id, "duplicate", request.key, "already consumed")
    log.info("retraining: %s", describe(request))
    try:
        pipeline(request, handle)
    except Exception as exc:  # any failure of the pipeline: keep the message for a retry
        log.exception("pipeline failed for %s; the message stays for a retry", request.key)
        return Handled(message_id, "failed", request.key, f"{type(exc).__name__}: {exc}")
    ledger.mark_consumed(request.key, request.model_dump(mode="json"))
    return Handled(message_id, "succeeded", request.key)
