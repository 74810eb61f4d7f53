"""The evaluation gate: thresholds as data, verdicts with reasons, metrics on a holdout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from infra.outputs import StackOutputs
from ml.evaluate import (
    GATE_METRICS,
    GateInputError,
    GateThresholds,
    classification_metrics,
    evaluate_gate,
    gate_thresholds,
    holdout_metrics,
)

THRESHOLDS = GateThresholds(metric="auc", minimum=0.7, max_regression=0.02)
GOOD = {"auc": 0.86, "accuracy": 0.8, "f1": 0.7, "logloss": 0.45, "rows": 200.0}


def test_thresholds_come_from_the_stack_outputs() -> None:
    fields = {
        name: ["x"] if info.annotation == list[str] else "x"
        for name, info in StackOutputs.model_fields.items()
        if info.is_required()
    }
    numbers = {
        "registry_auto_approve": False,
        "gate_metric": "f1",
        "gate_minimum": 0.65,
        "gate_max_regression": 0.01,
        "training_max_instances": 1,
        "training_max_runtime_seconds": 60,
        "training_spot": False,
        "endpoint_deployed": False,
        "drift_threshold": 0.2,
        "prediction_drift_threshold": 0.1,
        "min_accuracy": 0.7,
    }
    outputs = StackOutputs.model_validate({**fields, **numbers})

    assert gate_thresholds(outputs) == GateThresholds(
        metric="f1", minimum=0.65, max_regression=0.01
    )


def test_a_good_model_passes_without_a_champion() -> None:
    result = evaluate_gate(GOOD, THRESHOLDS)

    assert result.passed
    assert result.reasons == ()
    assert any("no champion" in note for note in result.notes)
    gated = [row for row in result.table if row.passed is not None]
    assert [(row.metric, row.candidate, row.minimum, row.floor) for row in gated] == [
        ("auc", 0.86, 0.7, None)
    ]


def test_a_good_model_passes_against_a_slightly_better_champion() -> None:
    champion = {**GOOD, "auc": 0.87}

    result = evaluate_gate(GOOD, THRESHOLDS, champion=champion)

    assert result.passed
    row = next(row for row in result.table if row.metric == "auc")
    assert row.champion == 0.87
    assert row.floor == pytest.approx(0.85, abs=1e-12)
    assert row.passed is True


def test_a_model_below_the_minimum_fails_with_the_reason() -> None:
    result = evaluate_gate({**GOOD, "auc": 0.65}, THRESHOLDS)

    assert not result.passed
    assert result.reasons == ("auc 0.6500 is below the stack's minimum 0.7000",)
    summary = result.summary().splitlines()
    assert summary[0] == "evaluation gate FAILED on auc"
    (auc_line,) = [line for line in summary if line.split()[0] == "auc"]
    assert auc_line.split() == ["auc", "0.6500", "0.7000", "FAIL"]


def test_a_model_worse_than_the_champion_fails_with_the_reason() -> None:
    champion = {**GOOD, "auc": 0.90}

    result = evaluate_gate({**GOOD, "auc": 0.85}, THRESHOLDS, champion=champion)

    assert not result.passed
    (reason,) = result.reasons
    assert "worse than the champion's 0.9000 by 0.0500" in reason
    assert "allowed regression 0.0200" in reason


def test_both_failures_are_reported() -> None:
    result = evaluate_gate({**GOOD, "auc": 0.6}, THRESHOLDS, champion={"auc": 0.9})

    assert not result.passed
    assert len(result.reasons) == 2


def test_the_floor_allows_for_floating_point_noise() -> None:
    # 0.8 - 0.1 is 0.7000000000000001 in binary floating point.
    thresholds = GateThresholds(metric="accuracy", minimum=0.5, max_regression=0.1)

    result = evaluate_gate({"accuracy": 0.7}, thresholds, champion={"accuracy": 0.8})

    assert result.passed


def test_an_undefined_metric_fails_rather_than_passes() -> None:
    result = evaluate_gate({**GOOD, "auc": math.nan}, THRESHOLDS, champion={"auc": 0.5})

    assert not result.passed
    assert "both classes" in result.reasons[0]


@pytest.mark.parametrize(
    ("candidate", "champion", "whose"),
    [({"f1": 0.9}, None, "candidate"), (GOOD, {"f1": 0.9}, "champion")],
)
def test_metrics_without_the_gate_metric_are_an_error(
    candidate: dict[str, float], champion: dict[str, float] | None, whose: str
) -> None:
    with pytest.raises(GateInputError, match=f"{whose}'s metrics lack the gate metric 'auc'"):
        evaluate_gate(candidate, THRESHOLDS, champion=champion)


def test_thresholds_reject_a_metric_without_a_minimum() -> None:
    with pytest.raises(GateInputError, match="gate metric 'logloss' is not one of"):
        GateThresholds(metric="logloss", minimum=0.5, max_regression=0.0)
    assert set(GATE_METRICS) == {"auc", "accuracy", "f1"}


def test_result_serialises_to_plain_data() -> None:
    data = evaluate_gate(GOOD, THRESHOLDS, champion=GOOD).to_dict()

    assert data["passed"] is True
    assert data["thresholds"] == {"metric": "auc", "minimum": 0.7, "max_regression": 0.02}
    assert [row["metric"] for row in data["table"]] == ["auc", "accuracy", "f1", "logloss"]


def test_classification_metrics_on_known_values() -> None:
    truth = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.6, 0.4, 0.9])

    metrics = classification_metrics(truth, proba)

    assert metrics["auc"] == pytest.approx(0.75, abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(0.5, abs=1e-12)
    assert metrics["f1"] == pytest.approx(0.5, abs=1e-12)
    expected_logloss = -np.mean(np.log([0.9, 0.4, 0.4, 0.9]))
    assert metrics["logloss"] == pytest.approx(expected_logloss, abs=1e-12)
    assert metrics["rows"] == 4.0


def test_holdout_metrics_of_a_fitted_model_use_its_positive_class() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    frame = pd.DataFrame(
        {"x": x, "churned": np.where(x + rng.normal(0, 0.5, 200) > 0, "yes", "no")}
    )
    model = LogisticRegression().fit(frame[["x"]], frame["churned"])

    metrics = holdout_metrics(model, frame, "churned")

    # "yes" is classes_[1]: the probability of churning ranks churners first.
    assert metrics["auc"] > 0.85
    with pytest.raises(GateInputError, match="no label column 'label'"):
        holdout_metrics(model, frame, "label")
