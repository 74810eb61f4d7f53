"""Retraining requests: queued once by monitoring runs, consumed by the training pipeline.

outcome = trigger_retraining(handle, result)        # ml.monitor result -> one queued request
summary = consume(handle, pipeline, max_messages=5)  # run the pipeline, delete on success
request = parse_message(body)                         # monitor or EventBridge shape
"""

from ml.retrain.consumer import ConsumeSummary, Handled, NoRetrainingQueue, Pipeline, consume
from ml.retrain.ledger import CONSUMED_PREFIX, REQUESTS_PREFIX, STALE_CLAIM, Ledger
from ml.retrain.pipeline import PipelineMissing, default_pipeline
from ml.retrain.request import (
    MessageError,
    RetrainingRequest,
    event_key,
    monitor_key,
    parse_message,
)
from ml.retrain.trigger import (
    TriggerOutcome,
    build_request,
    request_retraining,
    trigger_retraining,
)

__all__ = [
    "CONSUMED_PREFIX",
    "REQUESTS_PREFIX",
    "STALE_CLAIM",
    "ConsumeSummary",
    "Handled",
    "Ledger",
    "MessageError",
    "NoRetrainingQueue",
    "Pipeline",
    "PipelineMissing",
    "RetrainingRequest",
    "TriggerOutcome",
    "build_request",
    "consume",
    "default_pipeline",
    "event_key",
    "monitor_key",
    "parse_message",
    "request_retraining",
    "trigger_retraining",
]
