"""Prometheus metrics of one server (`GET /metrics`), in a registry of its own so that two
servers in one process (tests) never share counters.

    mlops_serving_requests_total{route, status}     requests by route and HTTP status
    mlops_serving_invocation_seconds                 /invocations latency (histogram)
    mlops_serving_prediction                         P(positive) of every row (histogram)
    mlops_serving_rows_total                         rows predicted
    mlops_serving_model_loaded                       1 once the model answers /ping
    mlops_serving_capture_records_total{outcome}     buffered, written or dropped records
    mlops_serving_capture_flush_errors_total         failed S3 writes of capture files
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
# Tabular models answer in milliseconds; the top buckets catch a stalled process.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
PREDICTION_BUCKETS: Final = tuple(round(0.1 * i, 1) for i in range(1, 11))


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "mlops_serving_requests",
            "HTTP requests by route and status code.",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlops_serving_invocation_seconds",
            "Time to answer POST /invocations, body read to response.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Histogram(
            "mlops_serving_prediction",
            "Predicted probability of the positive class, per row.",
            buckets=PREDICTION_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("mlops_serving_rows", "Rows predicted.", registry=self.registry)
        self.model_loaded = Gauge(
            "mlops_serving_model_loaded",
            "1 when the model is loaded and /ping answers 200.",
            registry=self.registry,
        )
        self.capture_records = Counter(
            "mlops_serving_capture_records",
            "Data capture records: buffered, written to S3, or dropped.",
            ("outcome",),
            registry=self.registry,
        )
        self.capture_flush_errors = Counter(
            "mlops_serving_capture_flush_errors",
            "Failed S3 writes of data capture files (their records are retried).",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
