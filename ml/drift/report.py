"""Drift of a current window against the training baseline, per feature and for the prediction.

Missing values follow the baseline's policy: excluded from the statistic and counted
(``FeatureDrift.missing``); a column with no usable value left is reported with a NaN value
and counted as drifted. Every column costs a few vectorised passes (searchsorted, bincount,
value_counts) over its rows; the only Python loop is over columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ml.drift.base import Measurement
from ml.drift.baseline import Baseline, ColumnBaseline
from ml.drift.errors import DriftConfigError, DriftDataError, MissingFeatureError
from ml.drift.kinds import Direction, FeatureKind
from ml.drift.thresholds import Thresholds


@dataclass(frozen=True)
class FeatureDrift:
    """One column's drift result."""

    feature: str
    kind: FeatureKind
    statistic: str
    direction: Direction
    value: float
    """Compared with ``threshold``: a distance, or a p-value (see ``direction``)."""
    threshold: float
    drifted: bool
    test_statistic: float | None
    """KS D or chi-square X2 behind a p-value; None for distances."""
    used: int
    """Current rows that entered the statistic."""
    missing: int
    """Current rows excluded as missing."""
    baseline_missing_rate: float

    @property
    def severity(self) -> float:
        """``value`` normalised by ``threshold``: > 1 means drifted (``Direction.severity``)."""
        return self.direction.severity(self.value, self.threshold)

    @property
    def missing_rate(self) -> float:
        total = self.used + self.missing
        return self.missing / total if total else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind.value,
            "statistic": self.statistic,
            "direction": self.direction.value,
            "value": _json_number(self.value),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "severity": _json_number(self.severity),
            "test_statistic": None
            if self.test_statistic is None
            else _json_number(self.test_statistic),
            "used": self.used,
            "missing": self.missing,
            "missing_rate": _json_number(self.missing_rate),
            "baseline_missing_rate": self.baseline_missing_rate,
        }


@dataclass(frozen=True)
class DriftReport:
    """Per-feature drift and prediction drift of one current window."""

    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    rows: int

    @property
    def drifted_features(self) -> tuple[str, ...]:
        return tuple(result.feature for result in self.features if result.drifted)

    @property
    def max_feature_drift(self) -> float:
        """The largest feature severity (0 without features); > 1 means some feature drifted."""
        return max((result.severity for result in self.features), default=0.0)

    @property
    def prediction_drifted(self) -> bool:
        return self.prediction is not None and self.prediction.drifted

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features) or self.prediction_drifted

    def feature(self, name: str) -> FeatureDrift:
        for result in self.features:
            if result.feature == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "drifted": self.drifted,
            "drifted_features": list(self.drifted_features),
            "max_feature_drift": _json_number(self.max_feature_drift),
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "features": [result.to_dict() for result in self.features],
        }


def drift_report(baseline: Baseline, current: pd.DataFrame, thresholds: Thresholds) -> DriftReport:
    """Compare ``current`` with ``baseline`` column by column, as ``thresholds`` say."""
    _check_columns(baseline, current)
    _check_overrides(baseline, thresholds.overrides)
    features = tuple(
        _column_drift(name, baseline.columns[name], current[name], thresholds)
        for name in baseline.features
    )
    prediction = None
    if baseline.prediction is not None:
        name = baseline.prediction
        prediction = _column_drift(name, baseline.columns[name], current[name], thresholds)
    return DriftReport(features=features, prediction=prediction, rows=len(current))


def _check_columns(baseline: Baseline, current: pd.DataFrame) -> None:
    missing = [name for name in baseline.columns if name not in current.columns]
    if missing:
        raise MissingFeatureError(missing, "the current frame")
    duplicated = [name for name in baseline.columns if (current.columns == name).sum() > 1]
    if duplicated:
        raise DriftDataError(f"the current frame has duplicate column(s): {duplicated}")
    if len(current) == 0:
        raise DriftDataError("the current frame has no rows: nothing to compare")


def _check_overrides(baseline: Baseline, overridden: Iterable[str]) -> None:
    # An override for a column the baseline does not know is almost always a typo that would
    # otherwise silently leave the intended column on the default statistic.
    unknown = sorted(set(overridden) - set(baseline.columns))
    if unknown:
        raise DriftConfigError(
            f"threshold overrides name column(s) not in the baseline: {', '.join(unknown)}; "
            f"known columns: {', '.join(baseline.columns)}"
        )


def _column_drift(
    name: str, column: ColumnBaseline, series: pd.Series, thresholds: Thresholds
) -> FeatureDrift:
    statistic, threshold = thresholds.resolve(name, column.kind)
    observation = column.observe(series, name)
    measurement = (
        statistic.measure(column, observation.data) if observation.used else Measurement(math.nan)
    )
    return FeatureDrift(
        feature=name,
        kind=column.kind,
        statistic=statistic.name,
        direction=statistic.direction,
        value=measurement.value,
        threshold=threshold,
        drifted=statistic.direction.is_drift(measurement.value, threshold),
        test_statistic=measurement.test_statistic,
        used=observation.used,
        missing=observation.missing,
        baseline_missing_rate=column.missing / (column.count + column.missing),
    )


def _json_number(value: float) -> float | None:
    # NaN and infinity are not JSON; None says "undefined" in a report that is published.
    return value if math.isfinite(value) else None
