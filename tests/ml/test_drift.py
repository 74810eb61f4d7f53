"""Drift reports end to end: generated data with injected drift, thresholds, registry, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ml.drift import (
    STATISTICS,
    Baseline,
    Direction,
    DriftConfigError,
    DriftDataError,
    FeatureKind,
    MissingFeatureError,
    Thresholds,
    UnknownStatisticError,
    default_thresholds,
    drift_report,
    fit_baseline,
    get_statistic,
    statistic_names,
)

ROWS = 20_000
SEED = 20_240_601
NUMERIC = tuple(f"num_{i:02d}" for i in range(14))
CATEGORICAL = tuple(f"cat_{i:02d}" for i in range(6))
KINDS = {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
LABELS = ("red", "green", "blue", "black", "white")
CATEGORY_WEIGHTS = np.array([0.45, 0.25, 0.15, 0.1, 0.05])
MISSING_RATE = 0.05  # in num_05 and cat_05, on both sides: excluded, counted, not drift

# The injected drifts, and the only features a report may flag.
MEAN_SHIFT, VARIANCE_CHANGE, CATEGORY_SWAP = "num_03", "num_08", "cat_02"


def _numeric_column(rng: np.random.Generator, index: int, rows: int) -> np.ndarray:
    """A mix of shapes: normal, skewed, discrete with ties, bounded."""
    shape = index % 4
    if shape == 0:
        return rng.normal(index, 1.0 + index / 5, rows)
    if shape == 1:
        return rng.lognormal(1.0, 0.6, rows)
    if shape == 2:
        return rng.poisson(3.0, rows).astype(float)
    return rng.uniform(-index, index, rows)


def make_frame(
    seed: int, *, drift: bool = False, prediction_shift: float = 0.0, rows: int = ROWS
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(NUMERIC):
        columns[name] = _numeric_column(rng, index, rows)
    for name in CATEGORICAL:
        columns[name] = np.asarray(LABELS, dtype=object)[
            rng.choice(len(LABELS), rows, p=CATEGORY_WEIGHTS)
        ]
    if drift:
        values = columns[MEAN_SHIFT]
        columns[MEAN_SHIFT] = values + 0.75 * values.std()
        values = columns[VARIANCE_CHANGE]
        columns[VARIANCE_CHANGE] = values.mean() + 2.0 * (values - values.mean())
        values = columns[CATEGORY_SWAP]  # swap the 45% and 15% categories
        columns[CATEGORY_SWAP] = np.where(
            values == "red", "blue", np.where(values == "blue", "red", values)
        ).astype(object)
    frame = pd.DataFrame(columns)
    for name in ("num_05", "cat_05"):
        frame[name] = frame[name].mask(rng.uniform(size=rows) < MISSING_RATE)
    # The model scores undrifted features only, so feature drift alone leaves it stable.
    logit = 0.8 * frame["num_00"] - 0.5 * (frame["num_04"] - 4.0) / 1.8
    frame["score"] = 1.0 / (1.0 + np.exp(-(logit + prediction_shift)))
    return frame


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return fit_baseline(make_frame(SEED), KINDS, prediction="score")


def test_exactly_the_features_with_injected_drift_are_flagged(baseline: Baseline) -> None:
    report = drift_report(baseline, make_frame(SEED + 1, drift=True), default_thresholds())

    assert report.drifted_features == (MEAN_SHIFT, VARIANCE_CHANGE, CATEGORY_SWAP)
    assert not report.prediction_drifted  # the model does not read the drifted features
    assert report.drifted
    flagged = [report.feature(name) for name in report.drifted_features]
    assert [result.statistic for result in flagged] == ["psi", "psi", "jensen_shannon"]
    assert report.max_feature_drift == max(result.severity for result in flagged)
    assert report.max_feature_drift > 1.0


def test_a_fresh_sample_from_the_training_distribution_flags_nothing(baseline: Baseline) -> None:
    report = drift_report(baseline, make_frame(SEED + 2), default_thresholds())

    assert report.drifted_features == ()
    assert not report.drifted
    # Sampling noise stays far below the thresholds, not just under them.
    assert report.max_feature_drift < 0.25


def test_prediction_drift_is_detected_when_the_score_distribution_shifts(
    baseline: Baseline,
) -> None:
    report = drift_report(
        baseline, make_frame(SEED + 1, prediction_shift=0.6), default_thresholds()
    )

    assert report.prediction is not None
    assert report.prediction.feature == "score"
    assert report.prediction.statistic == "psi"
    assert report.prediction_drifted
    assert report.drifted_features == ()


def test_missing_values_are_excluded_and_counted(baseline: Baseline) -> None:
    current = make_frame(SEED + 1)
    report = drift_report(baseline, current, default_thresholds())
    column = current["num_05"]

    result = report.feature("num_05")
    assert result.missing == int(column.isna().sum()) > 0
    assert result.used == int(column.notna().sum())
    assert result.missing_rate == pytest.approx(MISSING_RATE, abs=0.01)
    assert result.baseline_missing_rate == pytest.approx(MISSING_RATE, abs=0.01)
    assert not result.drifted
    # Excluding missing rows gives the same value as dropping them beforehand.
    kept = current[column.notna()]
    assert drift_report(baseline, kept, default_thresholds()).feature("num_05").value == (
        pytest.approx(result.value, abs=1e-12)
    )
    assert report.feature("cat_05").missing == int(current["cat_05"].isna().sum())


def test_a_feature_with_no_value_left_is_reported_as_drifted(baseline: Baseline) -> None:
    current = make_frame(SEED + 1, rows=500)
    current["num_00"] = np.nan

    result = drift_report(baseline, current, default_thresholds()).feature("num_00")

    assert math.isnan(result.value)
    assert result.drifted
    assert (result.used, result.missing) == (0, 500)


def test_per_feature_overrides_change_the_statistic_and_threshold(baseline: Baseline) -> None:
    thresholds = (
        default_thresholds()
        .with_override(MEAN_SHIFT, "psi", threshold=50.0)  # tolerate the shift
        .with_override("num_00", "ks")
        .with_override("cat_00", "chi_square", threshold=1e-6)
        .with_override("score", "jensen_shannon", threshold=0.3)
    )

    report = drift_report(baseline, make_frame(SEED + 1, drift=True), thresholds)

    assert report.drifted_features == (VARIANCE_CHANGE, CATEGORY_SWAP)
    assert report.feature(MEAN_SHIFT).threshold == 50.0
    ks = report.feature("num_00")
    assert (ks.statistic, ks.direction, ks.threshold) == ("ks", Direction.P_VALUE, 0.05)
    assert ks.test_statistic is not None and 0.0 <= ks.test_statistic <= 1.0
    chi = report.feature("cat_00")
    assert (chi.statistic, chi.threshold) == ("chi_square", 1e-6)
    assert report.prediction is not None
    assert (report.prediction.statistic, report.prediction.threshold) == ("jensen_shannon", 0.3)
    # Everything not overridden keeps the defaults.
    assert report.feature("num_01").statistic == "psi"
    assert report.feature("cat_01").statistic == "jensen_shannon"


def test_thresholds_are_data_that_round_trip_through_a_mapping() -> None:
    thresholds = Thresholds.from_dict(
        {
            "statistic_for_kind": {"numeric": "ks"},
            "threshold_for_statistic": {"psi": 0.25},
            "overrides": {"age": {"statistic": "psi"}},
        }
    )

    assert thresholds.statistic_for_kind[FeatureKind.NUMERIC] == "ks"
    assert thresholds.statistic_for_kind[FeatureKind.CATEGORICAL] == "jensen_shannon"
    assert thresholds.resolve("age", FeatureKind.NUMERIC)[1] == 0.25
    assert thresholds.resolve("height", FeatureKind.NUMERIC)[0].name == "ks"
    assert Thresholds.from_dict(json.loads(json.dumps(thresholds.to_dict()))) == thresholds


def test_default_thresholds_cover_every_statistic_with_its_default() -> None:
    thresholds = default_thresholds()

    assert thresholds.statistic_for_kind == {
        FeatureKind.NUMERIC: "psi",
        FeatureKind.CATEGORICAL: "jensen_shannon",
    }
    assert thresholds.threshold_for_statistic == {
        "psi": 0.2,
        "ks": 0.05,
        "chi_square": 0.05,
        "jensen_shannon": 0.1,
    }
    assert thresholds.overrides == {}


@pytest.mark.parametrize(
    ("name", "kinds", "direction"),
    [
        ("psi", {FeatureKind.NUMERIC, FeatureKind.CATEGORICAL}, Direction.DISTANCE),
        ("ks", {FeatureKind.NUMERIC}, Direction.P_VALUE),
        ("chi_square", {FeatureKind.CATEGORICAL}, Direction.P_VALUE),
        ("jensen_shannon", {FeatureKind.NUMERIC, FeatureKind.CATEGORICAL}, Direction.DISTANCE),
    ],
)
def test_registry_describes_each_statistic(
    name: str, kinds: set[FeatureKind], direction: Direction
) -> None:
    statistic = get_statistic(name)

    assert statistic.name == name
    assert statistic.kinds == kinds
    assert statistic.direction is direction


def test_unknown_statistic_error_lists_the_known_names() -> None:
    with pytest.raises(UnknownStatisticError) as caught:
        get_statistic("wasserstein")

    message = str(caught.value)
    assert "'wasserstein'" in message
    for name in ("chi_square", "jensen_shannon", "ks", "psi"):
        assert name in message
    assert caught.value.known == statistic_names() == tuple(sorted(STATISTICS))
    assert isinstance(caught.value, LookupError)
    with pytest.raises(UnknownStatisticError, match="known statistics: chi_square"):
        default_thresholds().with_override("num_00", "kl")


def test_threshold_errors_say_what_is_wrong(baseline: Baseline) -> None:
    current = make_frame(SEED + 1, rows=200)

    with pytest.raises(DriftConfigError, match="does not apply to numeric.*use one of"):
        drift_report(baseline, current, default_thresholds().with_override("num_00", "chi_square"))
    with pytest.raises(DriftConfigError, match="not in the baseline: num_99"):
        drift_report(baseline, current, default_thresholds().with_override("num_99", "psi"))
    with pytest.raises(DriftConfigError, match="strictly between 0 and 1"):
        default_thresholds().with_override("num_00", "ks", threshold=5.0)
    with pytest.raises(DriftConfigError, match="greater than 0"):
        Thresholds.from_dict({"threshold_for_statistic": {"psi": -1}})


def test_a_missing_feature_is_an_error_naming_it(baseline: Baseline) -> None:
    current = make_frame(SEED + 1, rows=200).drop(columns=["num_07", "cat_01"])

    with pytest.raises(MissingFeatureError, match="'num_07', 'cat_01'") as caught:
        drift_report(baseline, current, default_thresholds())

    assert caught.value.missing == ("num_07", "cat_01")


def test_an_empty_window_is_an_error(baseline: Baseline) -> None:
    with pytest.raises(DriftDataError, match="no rows"):
        drift_report(baseline, make_frame(SEED, rows=0), default_thresholds())


def test_unseen_categories_pool_into_other_for_chi_square() -> None:
    train = pd.DataFrame({"plan": ["free"] * 600 + ["pro"] * 400})
    baseline = fit_baseline(train, {"plan": "categorical"})
    thresholds = default_thresholds().with_override("plan", "chi_square")

    stray = pd.DataFrame({"plan": ["free"] * 599 + ["pro"] * 400 + ["typo"]})
    new_plan = pd.DataFrame({"plan": ["free"] * 500 + ["pro"] * 300 + ["team"] * 200})

    # One stray value adds about half a point of chi-square: no alarm, and no infinity.
    one = drift_report(baseline, stray, thresholds).feature("plan")
    assert one.test_statistic is not None and one.test_statistic < 1.0
    assert not one.drifted
    # A real new category is drift.
    assert drift_report(baseline, new_plan, thresholds).feature("plan").drifted


def test_report_serialises_to_strict_json(baseline: Baseline) -> None:
    current = make_frame(SEED + 1, drift=True, rows=2_000)
    current["num_00"] = np.nan
    report = drift_report(baseline, current, default_thresholds())

    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))

    assert document["drifted_features"][0] == "num_00"
    assert document["features"][0]["value"] is None
    assert document["prediction"]["feature"] == "score"
