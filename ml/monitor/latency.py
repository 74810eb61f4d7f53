"""Model latency of the window: from the capture records if the serving side put it there,
else from SageMaker's `ModelLatency` metric in CloudWatch; absent is a valid answer.

`ModelLatency` is in microseconds; everything here is in milliseconds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from ml.monitor.window import Window

log = logging.getLogger(__name__)

SAGEMAKER_NAMESPACE: Final = "AWS/SageMaker"
MODEL_LATENCY: Final = "ModelLatency"
MICROSECONDS_PER_MS: Final = 1000.0
_MINUTE = 60

Source = Literal["capture", "cloudwatch"]


@dataclass(frozen=True)
class LatencySummary:
    p50_ms: float
    p99_ms: float
    source: Source
    samples: int | None
    """Requests behind the figures (capture), or None when CloudWatch does not say."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "source": self.source,
            "samples": self.samples,
        }


def from_capture(latencies_ms: Sequence[float]) -> LatencySummary | None:
    if not latencies_ms:
        return None
    values = np.asarray(latencies_ms, dtype=np.float64)
    p50, p99 = np.percentile(values, [50, 99])
    return LatencySummary(float(p50), float(p99), "capture", int(values.size))


def from_cloudwatch(
    cloudwatch: Any, endpoint: str, variants: Sequence[str], window: Window
) -> LatencySummary | None:
    """p50 and p99 of `ModelLatency` over the whole window, per variant; with several
    variants the slowest one's figures (percentiles of different fleets do not add up)."""
    found: list[tuple[float, float]] = []
    # One period spanning the window gives the window's true percentiles (percentiles of
    # shorter periods cannot be combined); CloudWatch wants a multiple of 60 seconds.
    period = max(_MINUTE, math.ceil(window.seconds / _MINUTE) * _MINUTE)
    for variant in variants:
        try:
            answer = cloudwatch.get_metric_statistics(
                Namespace=SAGEMAKER_NAMESPACE,
                MetricName=MODEL_LATENCY,
                Dimensions=[
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                StartTime=window.start,
                EndTime=window.end,
                Period=period,
                ExtendedStatistics=["p50", "p99"],
            )
        except (BotoCoreError, ClientError) as exc:
            log.warning("no ModelLatency for %s/%s: %s", endpoint, variant, exc)
            continue
        for point in answer.get("Datapoints", []):
            stats = point.get("ExtendedStatistics") or {}
            if "p50" in stats and "p99" in stats:
                found.append((float(stats["p50"]), float(stats["p99"])))
    if not found:
        return None
    p50 = max(p for p, _ in found) / MICROSECONDS_PER_MS
    p99 = max(p for _, p in found) / MICROSECONDS_PER_MS
    return LatencySummary(p50, p99, "cloudwatch", None)
