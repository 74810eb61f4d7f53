"""Drift detection for monitoring: a training-time baseline and per-window drift reports.

baseline = fit_baseline(train, {"age": "numeric", "plan": "categorical"}, prediction="score")
(model_dir / BASELINE_FILENAME).write_text(baseline.to_json())   # shipped in model.tar.gz
...
report = drift_report(Baseline.from_json(text), window, default_thresholds())
report.drifted_features, report.prediction_drifted, report.max_feature_drift
"""

from ml.drift.base import Measurement, Statistic
from ml.drift.baseline import (
    BASELINE_FILENAME,
    OTHER,
    Baseline,
    CategoricalBaseline,
    NumericBaseline,
    fit_baseline,
)
from ml.drift.errors import (
    BaselineFormatError,
    DriftConfigError,
    DriftDataError,
    DriftError,
    MissingFeatureError,
    UnknownStatisticError,
)
from ml.drift.kinds import Direction, FeatureKind
from ml.drift.registry import STATISTICS, get_statistic, statistic_names
from ml.drift.report import DriftReport, FeatureDrift, drift_report
from ml.drift.thresholds import FeatureThreshold, Thresholds, default_thresholds

__all__ = [
    "BASELINE_FILENAME",
    "OTHER",
    "STATISTICS",
    "Baseline",
    "BaselineFormatError",
    "CategoricalBaseline",
    "Direction",
    "DriftConfigError",
    "DriftDataError",
    "DriftError",
    "DriftReport",
    "FeatureDrift",
    "FeatureKind",
    "FeatureThreshold",
    "Measurement",
    "MissingFeatureError",
    "NumericBaseline",
    "Statistic",
    "Thresholds",
    "UnknownStatisticError",
    "default_thresholds",
    "drift_report",
    "fit_baseline",
    "get_statistic",
    "statistic_names",
]
