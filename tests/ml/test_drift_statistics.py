"""Each drift statistic against scipy (or a direct formula on numpy histograms), within 1e-9."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp

from ml.drift import default_thresholds, drift_report, fit_baseline
from ml.drift.chi_square import chi_square
from ml.drift.jensen_shannon import jensen_shannon
from ml.drift.ks import ks_p_value, ks_two_sample
from ml.drift.psi import DEFAULT_EPSILON, psi

TOL = 1e-9


def direct_psi(train: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI written out: training-decile edges, np.histogram on both samples, epsilon floor."""
    edges = np.unique(np.quantile(train, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate(([-np.inf], edges, [np.inf]))
    expected = np.histogram(train, edges)[0] / train.size
    actual = np.histogram(current, edges)[0] / current.size
    expected = np.maximum(expected, DEFAULT_EPSILON)
    actual = np.maximum(actual, DEFAULT_EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def one_column_report(train: object, current: object, kind: str, statistic: str | None = None):
    baseline = fit_baseline(pd.DataFrame({"x": train}), {"x": kind}, ks_sketch_size=None)
    thresholds = default_thresholds()
    if statistic is not None:
        thresholds = thresholds.with_override("x", statistic)
    return drift_report(baseline, pd.DataFrame({"x": current}), thresholds).feature("x")


@pytest.mark.parametrize(
    ("current_shift", "current_scale"),
    [(0.0, 1.0), (0.4, 1.0), (0.0, 0.2), (5.0, 1.0)],
    ids=["same", "shifted", "narrow-empty-bins", "beyond-training-range"],
)
def test_psi_matches_direct_formula_on_numpy_histograms(
    current_shift: float, current_scale: float
) -> None:
    rng = np.random.default_rng(11)
    train = rng.gamma(2.0, size=3_000)
    current = current_shift + current_scale * rng.gamma(2.0, size=2_000)

    result = one_column_report(train, current, "numeric", "psi")

    assert result.value == pytest.approx(direct_psi(train, current), abs=TOL)


def test_psi_floors_empty_bins_at_epsilon() -> None:
    expected, actual = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])
    floored = np.maximum(expected, DEFAULT_EPSILON)
    by_hand = float(np.sum((actual - floored) * np.log(actual / floored)))

    assert psi(expected, actual) == pytest.approx(by_hand, abs=TOL)
    assert psi([10, 10, 0], [10, 10, 0]) == 0.0  # empty on both sides contributes nothing


@pytest.mark.parametrize(
    ("n1", "n2", "decimals"),
    [(40, 55, 1), (50, 50, 2), (7, 3, 1), (300, 200, 1), (120, 90, 8)],
    ids=["unequal", "equal", "tiny", "larger", "no-ties"],
)
def test_ks_exact_matches_scipy_exact(n1: int, n2: int, decimals: int) -> None:
    rng = np.random.default_rng(n1 * 1_000 + n2)
    first = np.round(rng.normal(size=n1), decimals)  # rounding creates ties
    second = np.round(rng.normal(0.4, 1.2, size=n2), decimals)

    ours = ks_two_sample(first, second, method="exact")
    reference = ks_2samp(first, second, method="exact")

    assert ours.statistic == pytest.approx(reference.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(reference.pvalue, abs=TOL)


def test_ks_asymptotic_p_value_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    first, second = rng.normal(size=12_000), rng.normal(0.02, size=15_000)

    reference = ks_2samp(first, second, method="asymp")
    ours = ks_two_sample(first, second, method="asymp")

    assert ours.statistic == pytest.approx(reference.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(reference.pvalue, abs=TOL)
    assert ks_p_value(0.0, 10, 10) == 1.0


def test_report_ks_with_exact_baseline_reproduces_scipy_default() -> None:
    rng = np.random.default_rng(8)
    train, current = rng.normal(size=800), rng.normal(0.15, size=600)

    result = one_column_report(train, current, "numeric", "ks")
    reference = ks_2samp(train, current)  # method="auto": exact at these sizes

    assert result.test_statistic == pytest.approx(reference.statistic, abs=TOL)
    assert result.value == pytest.approx(reference.pvalue, abs=TOL)


def test_chi_square_matches_scipy() -> None:
    observed = np.array([120, 80, 45, 5, 50])
    shares = np.array([0.4, 0.3, 0.15, 0.05, 0.1])

    ours = chi_square(observed, shares)
    reference = chisquare(observed, f_exp=shares * observed.sum())

    assert ours.statistic == pytest.approx(reference.statistic, abs=TOL)
    assert ours.p_value == pytest.approx(reference.pvalue, abs=TOL)
    assert ours.dof == 4


def test_report_chi_square_matches_scipy_on_category_counts() -> None:
    train = ["a"] * 500 + ["b"] * 300 + ["c"] * 200
    current = ["a"] * 420 + ["b"] * 330 + ["c"] * 250

    result = one_column_report(train, current, "categorical", "chi_square")
    reference = chisquare([420, 330, 250], f_exp=np.array([0.5, 0.3, 0.2]) * 1_000)

    assert result.value == pytest.approx(reference.pvalue, abs=TOL)
    assert result.test_statistic == pytest.approx(reference.statistic, abs=TOL)


def test_jensen_shannon_matches_scipy_base_2() -> None:
    p, q = np.array([10.0, 0.0, 5.0, 1.0]), np.array([3.0, 4.0, 0.0, 9.0])

    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=TOL)
    assert jensen_shannon(p, p) == 0.0


def test_report_jensen_shannon_matches_scipy_with_an_unseen_category() -> None:
    train = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    current = ["a"] * 30 + ["b"] * 30 + ["z"] * 40  # "c" vanished, "z" never seen in training

    result = one_column_report(train, current, "categorical")
    # Baseline order: a, b, c, then the OTHER bucket that "z" falls into.
    reference = jensenshannon([50, 30, 20, 0], [30, 30, 0, 40], base=2)

    assert result.statistic == "jensen_shannon"
    assert result.value == pytest.approx(reference, abs=TOL)


def test_report_jensen_shannon_on_numeric_bins_matches_scipy() -> None:
    rng = np.random.default_rng(9)
    train, current = rng.exponential(size=4_000), rng.exponential(1.3, size=3_000)
    edges = np.concatenate(([-np.inf], np.quantile(train, np.linspace(0, 1, 11)[1:-1]), [np.inf]))
    reference = jensenshannon(
        np.histogram(train, edges)[0], np.histogram(current, edges)[0], base=2
    )

    result = one_column_report(train, current, "numeric", "jensen_shannon")

    assert result.value == pytest.approx(reference, abs=TOL)
