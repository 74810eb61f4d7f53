"""The two vocabularies every drift statistic is described with: feature kinds and directions."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Final

# A p-value is clipped here before taking its logarithm, so that a p-value that underflowed to
# 0.0 still yields a finite (and very large) severity instead of infinity.
_SMALLEST_P_VALUE: Final = 1e-300


class FeatureKind(StrEnum):
    """What a column holds, which decides how it is summarised and which statistics apply."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Direction(StrEnum):
    """How a statistic's value is compared with its threshold."""

    DISTANCE = "distance"
    """Larger means more drift: drifted when ``value > threshold``."""

    P_VALUE = "p_value"
    """A hypothesis test's p-value: drifted when ``value < threshold``."""

    def is_drift(self, value: float, threshold: float) -> bool:
        """Whether ``value`` crosses ``threshold``; an undefined value (NaN) counts as drift.

        NaN only arises when a column has no usable value left in the current window: a
        feature that stopped arriving is treated as drifted rather than silently passing.
        """
        if math.isnan(value):
            return True
        if self is Direction.P_VALUE:
            return value < threshold
        return value > threshold

    def severity(self, value: float, threshold: float) -> float:
        """The value normalised by its threshold: > 1 means drifted, whatever the direction.

        Distances: ``value / threshold``. P-values: ``log(p) / log(threshold)``, so that
        p == threshold gives 1, p == 1 gives 0 and each further factor of ten below the
        threshold adds a constant step; a ratio ``threshold / p`` would explode to 1e300.
        This lets one number (``DriftReport.max_feature_drift``) rank features measured with
        different statistics, e.g. as a single CloudWatch metric with an alarm at 1.0.
        """
        if math.isnan(value):
            return math.inf
        if self is Direction.P_VALUE:
            return math.log(max(value, _SMALLEST_P_VALUE)) / math.log(threshold)
        return value / threshold

    def check_threshold(self, threshold: float) -> str | None:
        """Why ``threshold`` is unusable for this direction, or None when it is fine."""
        if not math.isfinite(threshold):
            return "must be a finite number"
        if self is Direction.P_VALUE and not 0.0 < threshold < 1.0:
            return "is a p-value threshold and must lie strictly between 0 and 1"
        if self is Direction.DISTANCE and threshold <= 0.0:
            return "is a distance threshold and must be greater than 0"
        return None
