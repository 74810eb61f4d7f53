"""The run's metrics in Prometheus' text format, from a registry built per run.

For a node-exporter textfile collector, `write_textfile` writes `<dir>/<name>.prom`
atomically (prometheus_client writes a temporary file and renames it), so the collector
never reads half a file. Every series carries `stack` and `endpoint_name` labels, the
CloudWatch dimensions.

    mlops_feature_drift / mlops_prediction_drift / mlops_accuracy   as published to CloudWatch
    mlops_quality_threshold{metric}                                 the alarms' thresholds
    mlops_feature_drift_value{feature,statistic}                    each feature's statistic
    mlops_feature_drift_threshold{feature,statistic}
    mlops_feature_drifted{feature}                                  1 or 0
    mlops_prediction_share{bin}                                     prediction distribution
    mlops_capture_rows / _records / _files / _skipped_lines / _outside_window
    mlops_labelled_rows / mlops_unmatched_labels / mlops_unlabelled_rows
    mlops_model_latency_milliseconds{quantile="0.5"|"0.99",source}
    mlops_monitor_window_end_timestamp_seconds
    mlops_retraining_requested{reason}                              1 if this run queued one
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from infra.outputs import ACCURACY_METRIC, FEATURE_DRIFT_METRIC, PREDICTION_DRIFT_METRIC
from ml.monitor.metrics import MonitoringResult

PREFIX = "mlops"
_BASE_LABELS = ("stack", "endpoint_name")
_PUBLISHED = {
    FEATURE_DRIFT_METRIC: ("feature_drift", "Worst feature drift on the alarm's scale (PSI)."),
    PREDICTION_DRIFT_METRIC: ("prediction_drift", "Prediction drift (PSI)."),
    ACCURACY_METRIC: ("accuracy", "Live accuracy over the labelled captured rows."),
}


def build_registry(
    result: MonitoringResult, retraining_reason: str | None = None
) -> CollectorRegistry:
    """A fresh registry holding this run's metrics (nothing global is touched)."""
    registry = CollectorRegistry(auto_describe=True)
    base = {"stack": result.stack, "endpoint_name": result.endpoint}

    def gauge(name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", doc, [*_BASE_LABELS, *labels], registry=registry)

    published = result.metrics()
    for metric, (name, doc) in _PUBLISHED.items():
        if metric in published:
            gauge(name, doc).labels(**base).set(published[metric])
    threshold = gauge("quality_threshold", "Alarm threshold of a quality metric.", "metric")
    for metric, value in (
        (FEATURE_DRIFT_METRIC, result.thresholds.drift_threshold),
        (PREDICTION_DRIFT_METRIC, result.thresholds.prediction_drift_threshold),
        (ACCURACY_METRIC, result.thresholds.min_accuracy),
    ):
        threshold.labels(**base, metric=metric).set(value)
    _drift(result, gauge, base)
    _volume(result, gauge, base)
    requested = gauge(
        "retraining_requested", "1 when this run queued a retraining request.", "reason"
    )
    requested.labels(**base, reason=retraining_reason or "").set(1 if retraining_reason else 0)
    return registry


def _drift(result: MonitoringResult, gauge: Any, base: dict[str, str]) -> None:
    if result.drift is None:
        return
    value = gauge("feature_drift_value", "A feature's drift statistic.", "feature", "statistic")
    limit = gauge("feature_drift_threshold", "A feature's drift threshold.", "feature", "statistic")
    drifted = gauge("feature_drifted", "1 when the feature drifted.", "feature")
    for item in result.drift.features:
        value.labels(**base, feature=item.feature, statistic=item.statistic).set(item.value)
        limit.labels(**base, feature=item.feature, statistic=item.statistic).set(item.threshold)
        drifted.labels(**base, feature=item.feature).set(1 if item.drifted else 0)
    shares = result.prediction_distribution
    if shares is not None:
        share = gauge("prediction_share", "Share of captured predictions per class or bin.", "bin")
        for label, current in zip(shares.labels, shares.current, strict=True):
            share.labels(**base, bin=label).set(current)


def _volume(result: MonitoringResult, gauge: Any, base: dict[str, str]) -> None:
    for name, doc, number in (
        ("capture_rows", "Captured rows in the window.", result.rows),
        ("capture_records", "Captured requests in the window.", result.records),
        ("capture_files", "Capture files read.", result.files),
        ("capture_skipped_lines", "Malformed capture lines skipped.", len(result.skipped)),
        ("capture_outside_window", "Records read but outside the window.", result.outside_window),
    ):
        gauge(name, doc).labels(**base).set(number)
    if result.accuracy is not None:
        for name, doc, number in (
            ("labelled_rows", "Captured rows joined to a label.", result.accuracy.matched),
            ("unmatched_labels", "Labels with no captured row.", result.accuracy.unmatched_labels),
            ("unlabelled_rows", "Captured rows with no label.", result.accuracy.unlabelled_rows),
        ):
            gauge(name, doc).labels(**base).set(number)
    if result.latency is not None:
        latency = gauge(
            "model_latency_milliseconds", "Model latency percentile.", "quantile", "source"
        )
        for quantile, millis in (("0.5", result.latency.p50_ms), ("0.99", result.latency.p99_ms)):
            latency.labels(**base, quantile=quantile, source=result.latency.source).set(millis)
    end = gauge("monitor_window_end_timestamp_seconds", "End of the monitored window.")
    end.labels(**base).set(result.window.end.timestamp())


def prometheus_text(result: MonitoringResult, retraining_reason: str | None = None) -> str:
    """The exposition text (`generate_latest`) of the run's registry."""
    return generate_latest(build_registry(result, retraining_reason)).decode("utf-8")


def write_textfile(
    result: MonitoringResult, path: Path, retraining_reason: str | None = None
) -> Path:
    """Write the exposition atomically for node-exporter's textfile collector (`*.prom`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), build_registry(result, retraining_reason))
    return path
