"""The reference churn dataset: deterministic, valid against its schema, learnable, and
drifting only where it says it does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.data import CHURN_SCHEMA, load_schema, validate_frame
from ml.data.reference import (
    CATEGORICAL_FEATURES,
    DERIVED_FEATURES,
    DRIFTING_FEATURES,
    ID,
    LABEL,
    NUMERIC_FEATURES,
    make_churn,
)
from ml.drift import default_thresholds, drift_report, fit_baseline

ROWS = 3000
SEED = 11


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_churn(ROWS, SEED)


def test_same_seed_same_frame_other_seed_other_frame(reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(make_churn(ROWS, SEED), reference)
    other = make_churn(ROWS, SEED + 1)
    assert not other["monthly_charges"].equals(reference["monthly_charges"])
    assert set(other[ID]).isdisjoint(reference[ID])  # ids do not collide across seeds


def test_shape_and_columns(reference: pd.DataFrame) -> None:
    assert len(reference) == ROWS
    assert list(reference.columns) == [ID, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES, LABEL]
    assert len(NUMERIC_FEATURES) == 8 and len(CATEGORICAL_FEATURES) == 2
    assert set(reference[LABEL].unique()) == {0, 1}
    assert 0.15 < reference[LABEL].mean() < 0.4


@pytest.mark.parametrize("drift", [0.0, 1.0, 5.0])
def test_valid_against_its_schema_at_any_drift(drift: float) -> None:
    report = validate_frame(make_churn(500, SEED, drift), load_schema(CHURN_SCHEMA))
    assert report.ok, [issue.message for issue in report.issues]


def test_label_depends_on_the_features(reference: pd.DataFrame) -> None:
    churned = reference[reference[LABEL] == 1]
    stayed = reference[reference[LABEL] == 0]
    assert churned["support_calls"].mean() > stayed["support_calls"].mean() + 0.3
    assert churned["tenure_months"].mean() < stayed["tenure_months"].mean() - 3
    assert churned["satisfaction_score"].mean() < stayed["satisfaction_score"].mean() - 0.2


def test_drift_changes_only_the_drifting_features(reference: pd.DataFrame) -> None:
    drifted = make_churn(ROWS, SEED, drift=1.0)
    moved = {*DRIFTING_FEATURES, *DERIVED_FEATURES}
    steady = [c for c in (ID, *NUMERIC_FEATURES, *CATEGORICAL_FEATURES) if c not in moved]
    assert len(steady) == 6
    pd.testing.assert_frame_equal(drifted[steady], reference[steady])
    for name in moved:
        assert not drifted[name].equals(reference[name]), name
    for name in ("monthly_charges", "support_calls", "data_usage_gb"):
        shift = drifted[name].mean() - reference[name].mean()
        assert shift > 0.5 * reference[name].std(), name
    premium = (drifted["plan"] == "premium").mean() - (reference["plan"] == "premium").mean()
    assert premium > 0.1


def test_drift_monitor_flags_the_drifting_features(reference: pd.DataFrame) -> None:
    kinds = load_schema(CHURN_SCHEMA).feature_kinds()
    baseline = fit_baseline(reference, kinds)
    drifted = drift_report(baseline, make_churn(ROWS, SEED, drift=1.0), default_thresholds())
    flagged = set(drifted.drifted_features)
    assert set(DRIFTING_FEATURES) <= flagged <= {*DRIFTING_FEATURES, *DERIVED_FEATURES}
    calm = drift_report(baseline, make_churn(ROWS, SEED), default_thresholds())
    assert calm.drifted_features == ()


@pytest.mark.parametrize(
    ("rows", "drift", "match"),
    [(0, 0.0, "rows must be at least 1"), (10, -0.5, "drift must be"), (10, np.nan, "drift must")],
)
def test_bad_arguments(rows: int, drift: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_churn(rows, SEED, drift)
