"""Two-sample Kolmogorov-Smirnov test: statistic D = sup |F - G| and its p-value.

F is the training ECDF, exact or sketched (``ecdf`` documents the sketch and its error bound
of 1/(2K) on D), G the current ECDF. The reported value is the p-value, drifted when below the
threshold (default 0.05); D is kept as the test statistic.

P-values follow ``scipy.stats.ks_2samp`` (two-sided):

- ``exact``: the probability that a random interleaving of the two samples gives a statistic
  >= D, by dynamic programming over the lattice paths from (0, 0) to (n1, n2). Cost
  O(n1 * n2): for small samples.
- ``asymp``: ``scipy.stats.kstwo.sf(D, round(n1 * n2 / (n1 + n2)))``.
- ``auto``: exact when both sizes are <= 10,000, as scipy does.

A report uses ``auto`` with an exact baseline, so it reproduces scipy on small data. With a
sketched baseline it reports the sketched D~ as the test statistic, but computes the p-value
(``asymp``) at ``D~ - ks_max_error``: an upper bound on the p-value the full training sample
would give. This matters at large windows: the p-value's slope in D grows like sqrt(n), and
with a million rows on each side D under no drift is about 0.001, the same order as the
sketch error (<= 0.0005), so the plain sketched p-value would drift up and down by chance.
With large windows any real shift, however small, gives a tiny p-value; PSI is the default
numeric statistic for that reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import kstwo

from ml.drift.base import Measurement, Statistic
from ml.drift.baseline import NumericBaseline
from ml.drift.ecdf import StepCDF
from ml.drift.histogram import FloatArray
from ml.drift.kinds import Direction, FeatureKind

KSMethod = Literal["auto", "exact", "asymp"]
AUTO_EXACT_MAX_N: Final = 10_000


@dataclass(frozen=True)
class KSResult:
    statistic: float
    p_value: float


def ks_two_sample(
    baseline: npt.ArrayLike, current: npt.ArrayLike, *, method: KSMethod = "auto"
) -> KSResult:
    """KS test between two raw samples (both kept whole: the exact mode)."""
    first = np.sort(np.asarray(baseline, dtype=np.float64))
    second = np.asarray(current, dtype=np.float64)
    if first.size == 0 or second.size == 0:
        raise ValueError("both samples must be non-empty")
    if not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        raise ValueError("samples must be finite: drop NaN and infinities first")
    statistic = StepCDF.from_sample(first).sup_distance(second)
    return KSResult(statistic, ks_p_value(statistic, first.size, second.size, method=method))


def ks_p_value(statistic: float, n1: int, n2: int, *, method: KSMethod = "auto") -> float:
    """Two-sided p-value of the KS statistic for sample sizes ``n1`` and ``n2``."""
    if method == "auto":
        method = "exact" if max(n1, n2) <= AUTO_EXACT_MAX_N else "asymp"
    if method == "exact":
        probability = _exact_p_value(statistic, n1, n2)
    else:
        effective_n = n1 * n2 / (n1 + n2)
        probability = float(kstwo.sf(statistic, np.round(effective_n)))
    return min(max(probability, 0.0), 1.0)


def _exact_p_value(statistic: float, n1: int, n2: int) -> float:
    """P(D >= statistic) under the null, by counting lattice paths (Hodges, 1958).

    A path from (0, 0) to (n1, n2) steps right (a value of the first sample) or up (one of the
    second); at (i, j) the ECDF gap is |i/n1 - j/n2| = |i n2 - j n1| / (n1 n2). D is a multiple
    of 1/lcm(n1, n2), so the comparison is done on integers, as scipy does. Instead of counts
    (which overflow), A(i, j) = inside paths to (i, j) / C(i + j, i) is propagated; it obeys
    A(i, j) = i/(i+j) A(i-1, j) + j/(i+j) A(i, j-1) and stays in [0, 1]. Anti-diagonals
    i + j = s are computed one at a time, vectorised over i.
    """
    g = math.gcd(n1, n2)
    h = round(statistic * (n1 // g) * n2)
    if h == 0:
        return 1.0
    bound = h * g  # the path is outside once |i n2 - j n1| >= bound
    small, large = sorted((n1, n2))  # the probability is symmetric in the two sizes
    i = np.arange(small + 1, dtype=np.int64)
    inside = np.zeros(small + 1)
    inside[0] = 1.0
    for s in range(1, small + large + 1):
        from_left = np.concatenate(([0.0], inside[:-1]))  # A(i-1, j)
        j = s - i
        inside = (i / s) * from_left + (j / s) * inside
        valid = (j >= 0) & (j <= large) & (np.abs(i * large - j * small) < bound)
        inside = np.where(valid, inside, 0.0)
    return 1.0 - float(inside[small])


def _numeric(column: NumericBaseline, data: FloatArray) -> Measurement:
    statistic = column.ecdf.sup_distance(data)
    if column.ks_exact:
        return Measurement(ks_p_value(statistic, column.count, data.size), statistic)
    # The exact D is at least D~ - ks_max_error, and the p-value falls as D grows, so the
    # p-value at that lower end bounds the exact-sample p-value from above: sketch error can
    # delay an alert but never raise a false one.
    lowest = max(statistic - column.ks_max_error, 0.0)
    return Measurement(ks_p_value(lowest, column.count, data.size, method="asymp"), statistic)


KS: Final = Statistic(
    name="ks",
    kinds=frozenset({FeatureKind.NUMERIC}),
    default_threshold=0.05,
    direction=Direction.P_VALUE,
    summary="Two-sample Kolmogorov-Smirnov test against the training ECDF (p-value)",
    numeric=_numeric,
)
