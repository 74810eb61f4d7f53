"""Publish a run's quality metrics to CloudWatch, where the stack's alarms watch them.

Namespace `outputs.metrics_namespace`, dimensions `Stack=<prefix>` and
`EndpointName=<endpoint>` (`infra.outputs.METRIC_DIMENSIONS`, in that order), metric names
`FeatureDrift`, `PredictionDrift` and `Accuracy`, one datapoint each per run, stamped with
the end of the window. A metric that is undefined (no labels, no predictions) or backed by
too few rows is not published: the alarms treat missing data as not breaching.
"""

from __future__ import annotations

from typing import Any

from infra.outputs import METRIC_DIMENSIONS
from ml.monitor.metrics import MonitoringResult


def metric_dimensions(stack: str, endpoint: str) -> list[dict[str, str]]:
    return [
        {"Name": name, "Value": value}
        for name, value in zip(METRIC_DIMENSIONS, (stack, endpoint), strict=True)
    ]


def publish_cloudwatch(
    cloudwatch: Any, namespace: str, result: MonitoringResult
) -> dict[str, float]:
    """Put the run's metrics; returns what was published (empty: nothing to publish)."""
    values = result.metrics()
    if not values:
        return {}
    dimensions = metric_dimensions(result.stack, result.endpoint)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Timestamp": result.window.end,
                "Value": value,
                "Unit": "None",
            }
            for name, value in values.items()
        ],
    )
    return values
