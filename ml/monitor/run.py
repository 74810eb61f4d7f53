"""One monitoring run of a stack: read the window's capture, measure, publish, trigger.

run = run_monitoring(handle, deployed_model(handle), Window.last("1h"), labels=frame)
run.result.metrics()       # what went to CloudWatch
run.retraining.status      # sent | duplicate | in_progress | not_needed | no_queue
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ml.drift import Thresholds
from ml.monitor.capture_store import CaptureLocation, capture_variants, read_capture
from ml.monitor.labels import DEFAULT_DECISION_THRESHOLD
from ml.monitor.latency import LatencySummary, from_capture, from_cloudwatch
from ml.monitor.metrics import DEFAULT_MIN_ROWS, MonitoringResult, evaluate
from ml.monitor.model import ModelContext
from ml.monitor.publish import publish_cloudwatch
from ml.monitor.quality import QualityThresholds, stack_prefix
from ml.monitor.window import Window
from ml.retrain.trigger import TriggerOutcome, trigger_retraining
from ml.stack import StackHandle


@dataclass(frozen=True)
class MonitorRun:
    result: MonitoringResult
    published: dict[str, float] = field(default_factory=dict)
    """Metrics put to CloudWatch (empty when nothing was publishable, or publish=False)."""
    retraining: TriggerOutcome | None = None
    """None when triggering was turned off."""

    def to_dict(self) -> dict[str, object]:
        return {
            **self.result.to_dict(),
            "published": self.published,
            "retraining": None if self.retraining is None else self.retraining.to_dict(),
        }


def run_monitoring(
    handle: StackHandle,
    model: ModelContext,
    window: Window,
    *,
    labels: pd.DataFrame | None = None,
    thresholds: Thresholds | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    decision_threshold: float = DEFAULT_DECISION_THRESHOLD,
    positive_label: str | None = None,
    publish: bool = True,
    trigger: bool = True,
) -> MonitorRun:
    outputs = handle.outputs
    batch = read_capture(handle.client("s3"), outputs, window, model.baseline)
    result = evaluate(
        batch,
        model.baseline,
        QualityThresholds.of(outputs),
        stack=stack_prefix(outputs),
        endpoint=outputs.endpoint_name,
        window=window,
        labels=labels,
        latency=_latency(handle, batch.latencies_ms, window),
        thresholds=thresholds,
        min_rows=min_rows,
        decision_threshold=decision_threshold,
        positive_label=positive_label,
        model_version=model.model_version,
        dataset_version=model.dataset_version,
    )
    published = (
        publish_cloudwatch(handle.client("cloudwatch"), outputs.metrics_namespace, result)
        if publish
        else {}
    )
    outcome = trigger_retraining(handle, result) if trigger else None
    return MonitorRun(result, published, outcome)


def _latency(
    handle: StackHandle, latencies_ms: tuple[float, ...], window: Window
) -> LatencySummary | None:
    captured = from_capture(latencies_ms)
    if captured is not None:
        return captured
    variants = capture_variants(handle.client("s3"), CaptureLocation.of(handle.outputs))
    return from_cloudwatch(
        handle.client("cloudwatch"), handle.outputs.endpoint_name, variants, window
    )
