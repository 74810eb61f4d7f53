"""One monitoring run's figures: drift, prediction distribution, accuracy, latency, volume.

`evaluate` is pure (a capture batch and a baseline in, a `MonitoringResult` out); reading
capture, latency from CloudWatch and publishing are done around it by `ml.monitor.run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import pandas as pd

from infra.outputs import ACCURACY_METRIC, FEATURE_DRIFT_METRIC, PREDICTION_DRIFT_METRIC
from ml.drift import Baseline, DriftReport, Thresholds, drift_report
from ml.monitor.capture import SkippedLine
from ml.monitor.capture_store import CaptureBatch
from ml.monitor.distribution import Distribution, distribution
from ml.monitor.labels import DEFAULT_DECISION_THRESHOLD, AccuracyResult, accuracy
from ml.monitor.latency import LatencySummary
from ml.monitor.quality import QualityThresholds, drift_thresholds, metric_value
from ml.monitor.window import Window

DEFAULT_MIN_ROWS: Final = 100
"""Rows (and labelled rows, for accuracy) below which figures are shown but neither
published nor acted on: drift statistics over a handful of rows are noise."""

QualityReason = Literal["accuracy", "feature_drift", "prediction_drift"]
# The order in which crossed thresholds name a retraining request's reason.
REASONS: Final[tuple[QualityReason, ...]] = ("accuracy", "feature_drift", "prediction_drift")


@dataclass(frozen=True)
class MonitoringResult:
    stack: str
    """The stack's name prefix: the Stack metric dimension."""
    endpoint: str
    window: Window
    thresholds: QualityThresholds
    rows: int
    records: int
    files: int
    skipped: tuple[SkippedLine, ...]
    outside_window: int
    invalid_values: dict[str, int]
    drift: DriftReport | None
    """None when the window has no row."""
    feature_drift: float | None
    """Published FeatureDrift: worst feature severity x drift_threshold (see quality)."""
    prediction_drift: float | None
    """Published PredictionDrift (PSI of the prediction), None without captured predictions."""
    feature_distributions: tuple[Distribution, ...]
    """Every feature's, baseline and current, in training order."""
    prediction_distribution: Distribution | None
    """Class shares (or score histogram) of the captured predictions."""
    accuracy: AccuracyResult | None
    latency: LatencySummary | None
    min_rows: int = DEFAULT_MIN_ROWS
    model_version: str | None = None
    dataset_version: str | None = None

    @property
    def sufficient(self) -> bool:
        """Enough rows for the drift figures to mean something."""
        return self.rows >= self.min_rows

    @property
    def accuracy_sufficient(self) -> bool:
        return self.accuracy is not None and self.accuracy.matched >= self.min_rows

    def metrics(self) -> dict[str, float]:
        """The values to publish under the stack's metric names (only those that are
        defined and backed by enough rows)."""
        values: dict[str, float] = {}
        if self.sufficient and self.feature_drift is not None:
            values[FEATURE_DRIFT_METRIC] = self.feature_drift
        if self.sufficient and self.prediction_drift is not None:
            values[PREDICTION_DRIFT_METRIC] = self.prediction_drift
        if self.accuracy_sufficient and self.accuracy and self.accuracy.accuracy is not None:
            values[ACCURACY_METRIC] = self.accuracy.accuracy
        return values

    def crossed(self) -> tuple[QualityReason, ...]:
        """Which thresholds the published metrics cross, as retraining reasons."""
        values = self.metrics()
        crossed = {
            "accuracy": values.get(ACCURACY_METRIC, 1.0) < self.thresholds.min_accuracy,
            "feature_drift": values.get(FEATURE_DRIFT_METRIC, 0.0)
            > self.thresholds.drift_threshold,
            "prediction_drift": values.get(PREDICTION_DRIFT_METRIC, 0.0)
            > self.thresholds.prediction_drift_threshold,
        }
        return tuple(reason for reason in REASONS if crossed[reason])

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "endpoint": self.endpoint,
            "window": self.window.to_dict(),
            "model_version": self.model_version,
            "dataset_version": self.dataset_version,
            "thresholds": self.thresholds.to_dict(),
            "min_rows": self.min_rows,
            "rows": self.rows,
            "records": self.records,
            "files": self.files,
            "outside_window": self.outside_window,
            "skipped": [line.to_dict() for line in self.skipped],
            "invalid_values": dict(self.invalid_values),
            "metrics": self.metrics(),
            "feature_drift": self.feature_drift,
            "prediction_drift": self.prediction_drift,
            "crossed": list(self.crossed()),
            "drift": None if self.drift is None else self.drift.to_dict(),
            "prediction_distribution": None
            if self.prediction_distribution is None
            else self.prediction_distribution.to_dict(),
            "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
            "latency": None if self.latency is None else self.latency.to_dict(),
        }


def evaluate(
    batch: CaptureBatch,
    baseline: Baseline,
    quality: QualityThresholds,
    *,
    stack: str,
    endpoint: str,
    window: Window,
    labels: pd.DataFrame | None = None,
    latency: LatencySummary | None = None,
    thresholds: Thresholds | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    decision_threshold: float = DEFAULT_DECISION_THRESHOLD,
    positive_label: str | None = None,
    model_version: str | None = None,
    dataset_version: str | None = None,
) -> MonitoringResult:
    """Every figure of the run from the window's capture batch."""
    report = feature_drift = prediction_drift = None
    features: tuple[Distribution, ...] = ()
    predictions = None
    if batch.rows:
        report = drift_report(
            baseline, batch.frame, drift_thresholds(baseline, quality, thresholds)
        )
        feature_drift = metric_value(report.max_feature_drift, quality.drift_threshold)
        if report.prediction is not None and report.prediction.used:
            prediction_drift = metric_value(
                report.prediction.severity, quality.prediction_drift_threshold
            )
        features = tuple(
            distribution(baseline, name, batch.frame[name]) for name in baseline.features
        )
        if batch.has_predictions:
            column = batch.prediction_column
            predictions = distribution(baseline, column, batch.frame[column])
    scored = (
        accuracy(batch, labels, decision_threshold, positive_label)
        if labels is not None and batch.rows
        else None
    )
    if labels is not None and scored is None:
        scored = AccuracyResult(None, 0, 0, 0, len(labels))
    return MonitoringResult(
        stack=stack,
        endpoint=endpoint,
        window=window,
        thresholds=quality,
        rows=batch.rows,
        records=batch.records,
        files=len(batch.files),
        skipped=batch.skipped,
        outside_window=batch.outside_window,
        invalid_values=dict(batch.invalid_values),
        drift=report,
        feature_drift=feature_drift,
        prediction_drift=prediction_drift,
        feature_distributions=features,
        prediction_distribution=predictions,
        accuracy=scored,
        latency=latency,
        min_rows=min_rows,
        model_version=model_version,
        dataset_version=dataset_version,
    )
