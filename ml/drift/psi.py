"""Population Stability Index over baseline-quantile bins (numeric) or categories.

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

with ``e`` the baseline and ``a`` the current proportions per bin. Numeric bins are the
training deciles (``baseline.DEFAULT_BINS``) with open-ended outer bins; categorical bins are
the baseline categories plus the ``OTHER`` bucket.

Empty bins: a proportion of 0 makes the log infinite, so both proportions are floored at
``DEFAULT_EPSILON = 1e-4`` (not renormalised). 1e-4 is below one row in ten thousand, so it
does not hide real mass, and it caps a single empty bin's term at about (p) * ln(p / 1e-4),
so one bin that empties (or a first unseen category) raises PSI sharply without making it
infinite. A bin empty on both sides contributes exactly 0.

Usual reading: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant; the default
threshold is 0.2.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from ml.drift.base import Measurement, Statistic
from ml.drift.baseline import CategoricalBaseline, NumericBaseline
from ml.drift.histogram import FloatArray, IntArray, bin_counts, proportions
from ml.drift.kinds import Direction, FeatureKind

DEFAULT_EPSILON: Final = 1e-4


def psi(
    expected: npt.ArrayLike, actual: npt.ArrayLike, *, epsilon: float = DEFAULT_EPSILON
) -> float:
    """PSI of ``actual`` against ``expected``; both are counts or proportions per bin."""
    base = np.maximum(proportions(expected), epsilon)
    current = np.maximum(proportions(actual), epsilon)
    if base.shape != current.shape:
        raise ValueError(f"bin counts differ in length: {base.size} vs {current.size}")
    return float(np.sum((current - base) * np.log(current / base)))


def _numeric(column: NumericBaseline, data: FloatArray) -> Measurement:
    return Measurement(psi(column.counts, bin_counts(column.edges, data)))


def _categorical(column: CategoricalBaseline, counts: IntArray) -> Measurement:
    return Measurement(psi(column.counts, counts))


PSI: Final = Statistic(
    name="psi",
    kinds=frozenset({FeatureKind.NUMERIC, FeatureKind.CATEGORICAL}),
    default_threshold=0.2,
    direction=Direction.DISTANCE,
    summary="Population Stability Index over baseline-quantile bins or categories",
    numeric=_numeric,
    categorical=_categorical,
)
