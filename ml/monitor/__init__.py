"""Production monitoring: the endpoint's data capture against the model's drift baseline.

handle = open_stack("dev")
run = run_monitoring(handle, deployed_model(handle), Window.last("1h"), labels=read_labels(p))
run.result.metrics()          # {"FeatureDrift": ..., "PredictionDrift": ..., "Accuracy": ...}
prometheus_text(run.result)   # the same for Prometheus
write_report(run.result, Path("report.html"))

Pieces: `capture` (SageMaker's JSON Lines records), `capture_store` (S3 listing for a
window), `labels` (ground truth, accuracy), `latency`, `metrics` (`evaluate`, pure),
`publish` (CloudWatch), `prometheus`, `report` (HTML), `model` (which baseline), `run`.
"""

from ml.monitor.capture import (
    LATENCY_ATTRIBUTE,
    CaptureFormatError,
    CaptureRecord,
    SkippedLine,
    encode_record,
    parse_line,
    read_lines,
)
from ml.monitor.capture_store import (
    CaptureBatch,
    CaptureLocation,
    build_batch,
    list_capture_files,
    read_capture,
    read_capture_files,
)
from ml.monitor.distribution import Distribution
from ml.monitor.labels import AccuracyResult, LabelsError, accuracy, read_labels
from ml.monitor.latency import LatencySummary
from ml.monitor.metrics import DEFAULT_MIN_ROWS, MonitoringResult, evaluate
from ml.monitor.model import ModelContext, ModelContextError, deployed_model, load_baseline
from ml.monitor.prometheus import build_registry, prometheus_text, write_textfile
from ml.monitor.publish import metric_dimensions, publish_cloudwatch
from ml.monitor.quality import QualityThresholds, drift_thresholds, stack_prefix
from ml.monitor.report import history_path, write_report
from ml.monitor.run import MonitorRun, run_monitoring
from ml.monitor.window import Window, WindowError, parse_duration

__all__ = [
    "DEFAULT_MIN_ROWS",
    "LATENCY_ATTRIBUTE",
    "AccuracyResult",
    "CaptureBatch",
    "CaptureFormatError",
    "CaptureLocation",
    "CaptureRecord",
    "Distribution",
    "LabelsError",
    "LatencySummary",
    "ModelContext",
    "ModelContextError",
    "MonitorRun",
    "MonitoringResult",
    "QualityThresholds",
    "SkippedLine",
    "Window",
    "WindowError",
    "accuracy",
    "build_batch",
    "build_registry",
    "deployed_model",
    "drift_thresholds",
    "encode_record",
    "evaluate",
    "history_path",
    "list_capture_files",
    "load_baseline",
    "metric_dimensions",
    "parse_duration",
    "parse_line",
    "prometheus_text",
    "publish_cloudwatch",
    "read_capture",
    "read_capture_files",
    "read_labels",
    "read_lines",
    "run_monitoring",
    "stack_prefix",
    "write_report",
    "write_textfile",
]
