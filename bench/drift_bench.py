"""Benchmark: ``ml.drift.drift_report`` against a straightforward per-feature scipy version.

Run: ``python bench/drift_bench.py [--rows N]``. One process generates a training frame and a
current frame (fixed seed; 40 numeric and 10 categorical features plus a numeric prediction,
drift injected into a few columns), then times, side by side:

- ours: ``fit_baseline`` once on the training frame (training time), then ``drift_report``
  from the baseline alone, with the default distances (PSI, Jensen-Shannon) and with the
  hypothesis tests (KS on the 1,000-point sketch, chi-square);
- scipy: the same statistics computed per feature from the raw training frame, which the
  monitor must therefore keep: np.quantile edges + np.histogram for PSI,
  ``scipy.spatial.distance.jensenshannon``, ``scipy.stats.ks_2samp``, ``scipy.stats.chisquare``.

Seconds come from a plain run; peak memory from a second run under tracemalloc (which sees
numpy buffers and Python objects, not pyarrow's own allocator), as the peak above the memory
in use before the call. The last columns give the largest disagreement with scipy: 0 up to
rounding for PSI, Jensen-Shannon and chi-square, and at most 1/(2K) = 0.0005 for the sketched
KS statistic D.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp

from ml.drift import Baseline, Thresholds, default_thresholds, drift_report, fit_baseline
from ml.drift.psi import DEFAULT_EPSILON

SEED = 20_240_601
NUMERIC = 40
CATEGORICAL = 10
PREDICTION = "score"
BINS = 10
T = TypeVar("T")
Values = dict[str, tuple[float, float | None]]  # column -> (value, test statistic)


@dataclass(frozen=True)
class Row:
    implementation: str
    scenario: str
    rows: int
    features: int
    seconds: float
    peak_mb: float
    max_value_diff: float | None = None
    max_statistic_diff: float | None = None


def make_frames(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Training and current frames; drift in num_00..num_02, cat_00 and the prediction."""
    rng = np.random.default_rng(seed)
    kinds: dict[str, str] = {}
    train: dict[str, object] = {}
    current: dict[str, object] = {}
    for i in range(NUMERIC):
        name = f"num_{i:02d}"
        kinds[name] = "numeric"
        loc, scale = float(i), 1.0 + i / 10
        train[name] = rng.normal(loc, scale, rows)
        shift = {0: (0.5 * scale, 1.0), 1: (0.0, 1.5)}.get(i, (0.0, 1.0))
        current[name] = rng.normal(loc + shift[0], scale * shift[1], rows)
    for i in range(CATEGORICAL):
        name = f"cat_{i:02d}"
        kinds[name] = "categorical"
        labels = np.array([f"{name}_v{j}" for j in range(5 + i)])
        weights = rng.dirichlet(np.full(labels.size, 2.0))
        drifted = weights[::-1] if i == 0 else weights
        train[name] = labels[rng.choice(labels.size, rows, p=weights)]
        current[name] = labels[rng.choice(labels.size, rows, p=drifted)]
    train[PREDICTION] = rng.beta(2.0, 5.0, rows)
    current[PREDICTION] = rng.beta(2.5, 4.0, rows)
    return pd.DataFrame(train), pd.DataFrame(current), kinds


def scipy_values(
    train: pd.DataFrame, current: pd.DataFrame, kinds: Mapping[str, str], tests: bool
) -> Values:
    """The straightforward version: every statistic from the raw training columns."""
    values: Values = {}
    for name, kind in {**kinds, PREDICTION: "numeric"}.items():
        if kind == "numeric":
            reference = train[name].dropna().to_numpy()
            window = current[name].dropna().to_numpy()
            values[name] = _scipy_ks(reference, window) if tests else _scipy_psi(reference, window)
        else:
            reference_counts = train[name].value_counts()
            window_counts = (
                current[name].value_counts().reindex(reference_counts.index, fill_value=0)
            )
            values[name] = (
                _scipy_chisquare(reference_counts.to_numpy(), window_counts.to_numpy())
                if tests
                else (float(jensenshannon(reference_counts, window_counts, base=2)), None)
            )
    return values


def _scipy_psi(reference: np.ndarray, window: np.ndarray) -> tuple[float, None]:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, BINS + 1)[1:-1]))
    bins = np.concatenate(([-np.inf], edges, [np.inf]))
    expected = np.histogram(reference, bins)[0] / reference.size
    actual = np.histogram(window, bins)[0] / window.size
    expected, actual = np.maximum(expected, DEFAULT_EPSILON), np.maximum(actual, DEFAULT_EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected))), None


def _scipy_ks(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    result = ks_2samp(reference, window)
    return float(result.pvalue), float(result.statistic)


def _scipy_chisquare(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    result = chisquare(window, f_exp=reference / reference.sum() * window.sum())
    return float(result.pvalue), float(result.statistic)


def ours_values(baseline: Baseline, current: pd.DataFrame, thresholds: Thresholds) -> Values:
    report = drift_report(baseline, current, thresholds)
    results = [*report.features, *([report.prediction] if report.prediction else [])]
    return {result.feature: (result.value, result.test_statistic) for result in results}


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """Result, seconds of a plain run, and peak MB above the start in a traced second run."""
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, (peak - before) / 2**20


def largest_gaps(ours: Values, reference: Values) -> tuple[float, float | None]:
    value_gap = max(abs(ours[name][0] - reference[name][0]) for name in reference)
    statistic_gaps = [
        abs(mine - theirs)
        for name, (_, theirs) in reference.items()
        if theirs is not None and (mine := ours[name][1]) is not None
    ]
    return value_gap, max(statistic_gaps) if statistic_gaps else None


def run(rows: int) -> list[Row]:
    train, current, kinds = make_frames(rows, SEED)
    features = len(kinds)
    baseline, fit_seconds, fit_peak = timed(
        partial(fit_baseline, train, kinds, prediction=PREDICTION)
    )
    table = [Row("ours: fit_baseline (training, once)", "-", rows, features, fit_seconds, fit_peak)]
    scenarios = {
        "psi + jensen_shannon": default_thresholds(),
        "ks + chi_square": Thresholds.from_dict(
            {"statistic_for_kind": {"numeric": "ks", "categorical": "chi_square"}}
        ),
    }
    for scenario, thresholds in scenarios.items():
        tests = scenario.startswith("ks")
        mine, seconds, peak = timed(partial(ours_values, baseline, current, thresholds))
        table.append(Row("ours: drift_report", scenario, rows, features, seconds, peak))
        theirs, seconds, peak = timed(partial(scipy_values, train, current, kinds, tests))
        value_gap, statistic_gap = largest_gaps(mine, theirs)
        table.append(
            Row(
                "scipy per feature",
                scenario,
                rows,
                features,
                seconds,
                peak,
                value_gap,
                statistic_gap,
            )
        )
    footer = {
        "baseline JSON (KB)": len(baseline.to_json()) / 1024,
        "raw training frame the scipy version keeps (MB)": train.memory_usage(deep=True).sum()
        / 2**20,
        "process peak RSS (MB)": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print_table(table, footer)
    return table


def print_table(table: list[Row], footer: Mapping[str, float]) -> None:
    header = (
        f"{'implementation':<38}{'statistics':<22}{'rows':>10}{'features':>9}{'seconds':>9}"
        f"{'peak MB':>9}{'max |Δ value|':>15}{'max |Δ stat|':>14}"
    )
    print(header)
    print("-" * len(header))
    for row in table:
        value = "" if row.max_value_diff is None else f"{row.max_value_diff:.2e}"
        stat = "" if row.max_statistic_diff is None else f"{row.max_statistic_diff:.2e}"
        print(
            f"{row.implementation:<38}{row.scenario:<22}{row.rows:>10,}{row.features:>9}"
            f"{row.seconds:>9.2f}{row.peak_mb:>9.0f}{value:>15}{stat:>14}"
        )
    for label, number in footer.items():
        print(f"{label}: {number:,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    run(parser.parse_args().rows)


if __name__ == "__main__":
    main()
