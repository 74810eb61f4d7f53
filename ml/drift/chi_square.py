"""Chi-square goodness-of-fit test: current category counts against baseline proportions.

    X2 = sum_i (o_i - E_i)^2 / E_i,  E_i = n_current * p_i,  dof = categories - 1

Equal to ``scipy.stats.chisquare(o, f_exp=E)``; the reported value is the p-value, drifted
when below the threshold (default 0.05).

Unseen categories. Values outside the baseline's stored categories (never seen in training,
or rarer than the ``max_categories`` kept) are pooled into the one ``OTHER`` bucket. When the
training data had no such values, the bucket's baseline count is 0 and its expected count
would be 0, which makes X2 infinite for a single stray value; instead it is given a
pseudo-count of half a training row (``UNSEEN_PSEUDO_COUNT``): one stray value then adds
about 0.5 to X2, while a real share of new categories still drives the p-value to 0. When no
current value falls outside either, the empty bucket is left out (it carries no information).

Caveats, why this is not the default for categorical columns: the baseline proportions are
treated as exact, so when the training set is no larger than the current window the test
rejects more often than its nominal level; and with a million rows any difference, however
small, becomes "significant". Jensen-Shannon (a distance with a fixed scale) is the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2

from ml.drift.base import Measurement, Statistic
from ml.drift.baseline import CategoricalBaseline
from ml.drift.histogram import IntArray, proportions
from ml.drift.kinds import Direction, FeatureKind

UNSEEN_PSEUDO_COUNT: Final = 0.5


@dataclass(frozen=True)
class ChiSquareResult:
    statistic: float
    p_value: float
    dof: int


def chi_square(observed: npt.ArrayLike, expected: npt.ArrayLike) -> ChiSquareResult:
    """Test ``observed`` counts against ``expected`` counts or proportions (all positive)."""
    counts = np.asarray(observed, dtype=np.float64)
    shares = proportions(expected)
    if counts.shape != shares.shape:
        raise ValueError(f"observed and expected differ in length: {counts.size} vs {shares.size}")
    if np.any(shares <= 0):
        raise ValueError("every expected proportion must be positive; drop or floor empty ones")
    expected_counts = shares * counts.sum()
    statistic = float(np.sum((counts - expected_counts) ** 2 / expected_counts))
    dof = counts.size - 1
    return ChiSquareResult(statistic=statistic, p_value=float(chi2.sf(statistic, dof)), dof=dof)


def _categorical(column: CategoricalBaseline, counts: IntArray) -> Measurement:
    expected = column.counts.astype(np.float64)
    if counts[-1] > 0 and expected[-1] == 0:
        expected[-1] = UNSEEN_PSEUDO_COUNT
    # Only the OTHER bucket can still be 0 here, and then its observed count is 0 as well.
    keep = expected > 0
    if int(keep.sum()) < 2:
        # A single bucket leaves nothing to test: every row is where the baseline expects.
        return Measurement(1.0, 0.0)
    result = chi_square(counts[keep], expected[keep])
    return Measurement(result.p_value, result.statistic)


CHI_SQUARE: Final = Statistic(
    name="chi_square",
    kinds=frozenset({FeatureKind.CATEGORICAL}),
    default_threshold=0.05,
    direction=Direction.P_VALUE,
    summary="Chi-square test of current category counts against baseline proportions (p-value)",
    categorical=_categorical,
)
