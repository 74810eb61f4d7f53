"""Binning helpers shared by the baseline (training time) and the statistics (monitoring time).

Both sides must bin with exactly the same rule, so the rule lives in one place.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def proportions(counts: npt.ArrayLike) -> FloatArray:
    """Normalise non-negative counts (or unnormalised weights) to proportions that sum to 1."""
    weights = np.asarray(counts, dtype=np.float64)
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(f"expected a non-empty 1-D vector of counts, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("counts must be finite and non-negative")
    total = float(weights.sum())
    if total <= 0.0:
        raise ValueError("counts sum to zero: there is no distribution to compare")
    return weights / total


def quantile_edges(ordered: FloatArray, bins: int) -> FloatArray:
    """Interior bin edges at the training quantiles i/bins, i = 1..bins-1, duplicates removed.

    Quantile (not equal-width) edges give each bin about the same training mass, so PSI and
    Jensen-Shannon are not dominated by a few crowded bins. Ties (e.g. a zero-inflated feature)
    make several quantiles equal; ``np.unique`` merges them, leaving fewer, heavier bins.
    """
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    # Quantiles of sorted data are sorted, so duplicates are adjacent.
    quantiles = np.quantile(ordered, levels)
    edges: FloatArray = quantiles[np.concatenate(([True], quantiles[1:] != quantiles[:-1]))]
    return edges


def bin_counts(edges: FloatArray, values: FloatArray) -> IntArray:
    """Count values per bin: bin 0 is (-inf, e0), bin i is [e(i-1), e(i)), the last [e(-1), inf).

    The outer bins are open-ended so that current values beyond the training range are
    counted (in the first or last bin) instead of being dropped. Values equal to an edge go
    to the bin above it, as in ``np.histogram``. One ``searchsorted`` and one ``bincount``
    over all rows: no Python loop over rows.
    """
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=edges.size + 1).astype(np.int64)
