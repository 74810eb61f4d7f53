"""The stack's quality thresholds and how drift becomes the metrics its alarms watch.

The stack alarms when `FeatureDrift > drift_threshold`, `PredictionDrift >
prediction_drift_threshold` or `Accuracy < min_accuracy` (StackOutputs). Drift is measured
with `ml.drift`: PSI held to `drift_threshold` for numeric features, the default statistic
for categorical ones (Jensen-Shannon), and PSI held to `prediction_drift_threshold` for the
prediction. Features measured with different statistics are put on one scale by their
severity (value / threshold, > 1 means drifted, see `ml.drift.Direction.severity`), and the
published value is `severity x stack threshold`: exactly the PSI when the worst feature is
measured with PSI, and in every case above the alarm's threshold exactly when some feature
drifted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from infra.outputs import StackOutputs
from ml.drift import Baseline, Thresholds, default_thresholds

ENDPOINT_SUFFIX: Final = "-endpoint"
MAX_SEVERITY: Final = 1000.0
"""Cap on a published severity: an undefined statistic (a column that stopped arriving)
has infinite severity, which CloudWatch cannot store; 1000x the threshold still alarms."""
PREDICTION_STATISTIC: Final = "psi"


class StackPrefixError(ValueError):
    """The stack's name prefix (the Stack metric dimension) cannot be derived."""


def stack_prefix(outputs: StackOutputs) -> str:
    """`<project>-<stack>`, the Stack dimension of the quality metrics and alarms.

    StackOutputs exports it as `namePrefix`; exports from before that field existed are
    read by dropping the `-endpoint` suffix of the endpoint name (`infra.naming`).
    """
    exported = getattr(outputs, "name_prefix", None)
    if isinstance(exported, str) and exported:
        return exported
    name = outputs.endpoint_name
    if not name.endswith(ENDPOINT_SUFFIX) or name == ENDPOINT_SUFFIX:
        raise StackPrefixError(
            f"endpoint name {name!r} does not end with {ENDPOINT_SUFFIX!r}, so the stack's "
            "name prefix (the Stack metric dimension) cannot be derived; it was shortened "
            "with a hash because `<project>-<stack>` is long. Fix: shorten the project or "
            "stack name, or export the prefix in StackOutputs"
        )
    return name.removesuffix(ENDPOINT_SUFFIX)


@dataclass(frozen=True)
class QualityThresholds:
    """What the stack's alarms and the retraining trigger compare the metrics with."""

    drift_threshold: float
    prediction_drift_threshold: float
    min_accuracy: float

    @classmethod
    def of(cls, outputs: StackOutputs) -> QualityThresholds:
        return cls(
            drift_threshold=outputs.drift_threshold,
            prediction_drift_threshold=outputs.prediction_drift_threshold,
            min_accuracy=outputs.min_accuracy,
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "drift_threshold": self.drift_threshold,
            "prediction_drift_threshold": self.prediction_drift_threshold,
            "min_accuracy": self.min_accuracy,
        }


def drift_thresholds(
    baseline: Baseline, quality: QualityThresholds, base: Thresholds | None = None
) -> Thresholds:
    """`base` (default: ml.drift's defaults) with the stack's PSI threshold for features and
    its prediction-drift threshold (PSI) for the prediction column."""
    base = base or default_thresholds()
    thresholds = Thresholds(
        statistic_for_kind=base.statistic_for_kind,
        threshold_for_statistic={**base.threshold_for_statistic, "psi": quality.drift_threshold},
        overrides=base.overrides,
    )
    if baseline.prediction is not None and baseline.prediction not in base.overrides:
        thresholds = thresholds.with_override(
            baseline.prediction, PREDICTION_STATISTIC, quality.prediction_drift_threshold
        )
    return thresholds


def metric_value(severity: float, stack_threshold: float) -> float:
    """A severity on the alarm's scale: `severity x threshold`, capped (CloudWatch needs
    finite values)."""
    if math.isnan(severity):
        severity = MAX_SEVERITY
    return min(severity, MAX_SEVERITY) * stack_threshold
