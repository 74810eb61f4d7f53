"""The training-time baseline: sketch error bound, JSON round trip, missing values, categories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from ml.drift import (
    BASELINE_FILENAME,
    OTHER,
    Baseline,
    BaselineFormatError,
    CategoricalBaseline,
    DriftConfigError,
    DriftDataError,
    MissingFeatureError,
    NumericBaseline,
    default_thresholds,
    drift_report,
    fit_baseline,
)

SKETCH = 1_000
BOUND = 0.5 / SKETCH  # the documented bound on the sketched KS statistic's error


def numeric(baseline: Baseline, name: str) -> NumericBaseline:
    column = baseline.columns[name]
    assert isinstance(column, NumericBaseline)
    return column


def categorical(baseline: Baseline, name: str) -> CategoricalBaseline:
    column = baseline.columns[name]
    assert isinstance(column, CategoricalBaseline)
    return column


def training_frame(rows: int = 5_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, rows),
            "visits": rng.poisson(2.0, rows),  # discrete: heavy ties
            "plan": rng.choice(["free", "pro", "team"], rows, p=[0.6, 0.3, 0.1]),
            "score": rng.uniform(size=rows),
        }
    )


KINDS = {"income": "numeric", "visits": "numeric", "plan": "categorical"}


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).normal(size=20_000),
        np.random.default_rng(2).poisson(3.0, 20_000).astype(float),
        np.where(np.random.default_rng(3).uniform(size=20_000) < 0.7, 0.0, 1.5),
        np.random.default_rng(4).normal(size=SKETCH + 2),
    ],
    ids=["continuous", "discrete", "zero-inflated", "just-above-sketch-size"],
)
def test_sketched_ks_statistic_stays_within_the_documented_bound(values: np.ndarray) -> None:
    rng = np.random.default_rng(10)
    current = values * 1.05 + rng.normal(0, 0.05, values.size)
    baseline = fit_baseline(pd.DataFrame({"x": values}), {"x": "numeric"})
    column = numeric(baseline, "x")

    sketched = column.ecdf.sup_distance(current)
    exact = ks_2samp(values, current).statistic

    assert not column.ks_exact
    assert len(column.ks_points) == SKETCH + 1
    assert 0.0 <= column.ks_max_error <= BOUND + 1e-12  # rounding of the levels (k + 0.5)/K
    assert abs(sketched - exact) <= column.ks_max_error + 1e-12


def test_sketched_ks_p_value_never_undercuts_the_exact_sample_p_value() -> None:
    rng = np.random.default_rng(12)
    train, current = rng.normal(size=20_000), rng.normal(0.01, size=20_000)
    baseline = fit_baseline(pd.DataFrame({"x": train}), {"x": "numeric"})

    report = drift_report(
        baseline, pd.DataFrame({"x": current}), default_thresholds().with_override("x", "ks")
    )

    assert report.feature("x").value >= ks_2samp(train, current).pvalue - 1e-12


def test_small_columns_are_stored_exactly_even_in_sketch_mode() -> None:
    baseline = fit_baseline(pd.DataFrame({"x": np.arange(50.0)}), {"x": "numeric"})

    assert numeric(baseline, "x").ks_exact
    assert numeric(baseline, "x").ks_max_error == 0.0


def test_json_round_trip_preserves_the_baseline_and_its_reports(tmp_path: Path) -> None:
    frame = training_frame()
    baseline = fit_baseline(frame, KINDS, prediction="score", prediction_kind="numeric")

    path = baseline.save(tmp_path / BASELINE_FILENAME)
    restored = Baseline.load(path)

    assert restored == baseline
    assert restored.features == ("income", "visits", "plan")
    assert restored.prediction == "score"
    current = training_frame(seed=4)
    thresholds = default_thresholds()
    assert drift_report(restored, current, thresholds) == drift_report(
        baseline, current, thresholds
    )


def test_json_is_strict_and_small_whatever_the_training_size() -> None:
    baseline = fit_baseline(training_frame(rows=50_000), KINDS, prediction="score")

    text = baseline.to_json()

    def reject(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    json.loads(text, parse_constant=reject)
    # Three numeric columns (income, visits, score) of about 20 KB each, plus a few categories.
    assert len(text) < 3 * 25_000


def test_from_json_rejects_another_schema_and_malformed_documents() -> None:
    good = json.loads(fit_baseline(training_frame(rows=100), KINDS).to_json())

    with pytest.raises(BaselineFormatError, match="schema"):
        Baseline.from_json(json.dumps({**good, "schema": "something/v9"}))
    with pytest.raises(BaselineFormatError, match="malformed"):
        Baseline.from_json(json.dumps({**good, "columns": {"income": {"kind": "numeric"}}}))
    with pytest.raises(BaselineFormatError, match="not JSON"):
        Baseline.from_json("{")


def test_missing_values_are_excluded_from_distributions_and_counted() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, 2.0, np.inf, 3.0, None],
            "c": ["a", None, "b", np.nan, "a", "b"],
        }
    )

    baseline = fit_baseline(frame, {"x": "numeric", "c": "categorical"})

    x, c = numeric(baseline, "x"), categorical(baseline, "c")
    assert (x.count, x.missing) == (3, 3)
    assert x.mean == pytest.approx(2.0, abs=1e-12)
    assert x.ks_points == (1.0, 2.0, 3.0)
    assert (c.count, c.missing) == (4, 2)
    assert c.proportions == {"a": 0.5, "b": 0.5, OTHER: 0.0}


def test_a_column_without_any_value_cannot_be_baselined() -> None:
    frame = pd.DataFrame({"x": [np.nan, np.nan], "c": [None, None]})

    with pytest.raises(DriftDataError, match="'x'"):
        fit_baseline(frame, {"x": "numeric"})
    with pytest.raises(DriftDataError, match="'c'"):
        fit_baseline(frame, {"c": "categorical"})


def test_categories_keep_their_labels_when_an_int_column_turns_float() -> None:
    train = pd.DataFrame({"rooms": [1, 2, 2, 3, 3, 3] * 50})
    current = pd.DataFrame({"rooms": [1.0, 2.0, 2.0, 3.0, 3.0, np.nan] * 50})  # NaN made it float
    baseline = fit_baseline(train, {"rooms": "categorical"})

    result = drift_report(baseline, current, default_thresholds()).feature("rooms")

    assert categorical(baseline, "rooms").categories == ("3", "2", "1")
    assert (result.used, result.missing) == (250, 50)
    assert not result.drifted


def test_rare_categories_beyond_the_cap_are_pooled_into_other() -> None:
    frame = pd.DataFrame({"city": ["x"] * 5 + ["y"] * 3 + ["z"] * 2 + ["w"]})

    column = categorical(fit_baseline(frame, {"city": "categorical"}, max_categories=2), "city")

    assert column.categories == ("x", "y")
    assert column.category_counts == (5, 3)
    assert column.other_count == 3


def test_fit_errors_name_the_problem() -> None:
    frame = training_frame(rows=10)

    with pytest.raises(MissingFeatureError, match="'age'") as missing:
        fit_baseline(frame, {"age": "numeric", "income": "numeric"})
    assert missing.value.missing == ("age",)
    with pytest.raises(DriftConfigError, match="use one of: numeric, categorical"):
        fit_baseline(frame, {"income": "ordinal"})
    with pytest.raises(DriftConfigError, match="both a feature and the prediction"):
        fit_baseline(frame, {"score": "numeric"}, prediction="score")
    with pytest.raises(DriftDataError, match="non-numeric"):
        fit_baseline(frame, {"plan": "numeric"})
