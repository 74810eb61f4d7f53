"""The training entry point on SageMaker's container contract, run in-process on small frames."""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from ml.drift import BASELINE_FILENAME, Baseline, NumericBaseline
from ml.train import (
    ARTIFACT_FILES,
    ContainerLayout,
    TrainingEnvironment,
    TrainingInputError,
    TrainParams,
    parse_param_pairs,
    training_job_name,
)
from ml.train.artifacts import pack_directory, unpack_archive
from ml.train.entry import main, run
from ml.train.frame import read_channel, write_channel

NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = ["plan", "region"]


def churn_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """8 numeric and 2 categorical features and a learnable binary `label` (like make_churn)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows).round(4) for name in NUMERIC})
    frame["n7"] = rng.poisson(2.0, rows)  # an integer feature, as counts are
    frame["plan"] = rng.choice(["basic", "standard", "premium"], rows)
    frame["region"] = rng.choice(["north", "south", "east", "west"], rows)
    logit = 1.2 * frame["n0"] - 0.8 * frame["n1"] + np.where(frame["plan"] == "premium", -1.0, 0.4)
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame


def job_layout(
    root: Path,
    frame: pd.DataFrame,
    hyperparameters: dict[str, str] | None = None,
    validation: pd.DataFrame | None = None,
) -> ContainerLayout:
    channels = (
        {"train": frame} if validation is None else {"train": frame, "validation": validation}
    )
    layout = ContainerLayout(root).create(channels, hyperparameters or {})
    for name, data in channels.items():
        write_channel(data, layout.channel_dir(name), name)
    return layout


def run_job(root: Path, frame: pd.DataFrame, hyperparameters: dict[str, str] | None = None) -> Path:
    layout = job_layout(root, frame, hyperparameters)
    env = TrainingEnvironment.from_environ(layout.environment(["train"]))
    run(env, {"MLOPS_DATASET": "churn@v1", "MLOPS_GIT_COMMIT": "abc123"})
    return layout.model_dir


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_main_follows_the_container_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = job_layout(tmp_path / "opt" / "ml", churn_frame(), {"seed": "1"})
    for name, value in layout.environment(["train"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLOPS_DATASET", "churn@v1")
    monkeypatch.setenv("MLOPS_GIT_COMMIT", "abc123")

    assert main(["train"]) == 0

    assert sorted(p.name for p in layout.config_dir.iterdir()) == [
        "hyperparameters.json",
        "inputdataconfig.json",
        "resourceconfig.json",
    ]
    input_config = json.loads((layout.config_dir / "inputdataconfig.json").read_text())
    assert input_config["train"]["ContentType"] == "text/csv"

    assert sorted(p.name for p in layout.model_dir.iterdir()) == sorted(ARTIFACT_FILES)
    assert not layout.failure_file.exists()
    metrics = json.loads((layout.model_dir / "metrics.json").read_text())
    assert set(metrics) == {"auc", "accuracy", "f1", "logloss", "rows", "train_rows"}
    assert metrics["rows"] == 80 and metrics["train_rows"] == 320  # 20 % held out
    assert 0.7 < metrics["auc"] <= 1.0
    card = json.loads((layout.model_dir / "model_card.json").read_text())
    assert card["features"] == [
        *({"name": n, "kind": "numeric"} for n in NUMERIC),
        *({"name": n, "kind": "categorical"} for n in CATEGORICAL),
    ]
    assert (card["dataset"], card["git_commit"]) == ("churn@v1", "abc123")
    assert card["label"] == "label" and card["classes"] == [0, 1] and card["positive_class"] == 1
    assert card["params"]["seed"] == "1" and card["params"]["algorithm"] == "gradient_boosting"
    assert card["metrics"] == metrics
    predictions = pd.read_csv(layout.output_data_dir / "holdout_predictions.csv")
    assert len(predictions) == 80


def test_the_baseline_summarises_training_rows_and_the_models_score(tmp_path: Path) -> None:
    model_dir = run_job(tmp_path, churn_frame())

    baseline = Baseline.load(model_dir / BASELINE_FILENAME)
    model = joblib.load(model_dir / "model.joblib")

    assert baseline.features == (*NUMERIC, *CATEGORICAL)
    assert baseline.prediction == "prediction"
    assert baseline.n_rows == 320
    assert baseline.columns["plan"].kind == "categorical"
    score = baseline.columns["prediction"]
    assert isinstance(score, NumericBaseline) and 0.0 <= score.mean <= 1.0
    assert list(model.classes_) == [0, 1]


def test_same_data_and_params_give_the_same_bytes_and_predictions(tmp_path: Path) -> None:
    frame = churn_frame()
    first = run_job(tmp_path / "a", frame, {"seed": "7"})
    second = run_job(tmp_path / "b", frame, {"seed": "7"})
    other_seed = run_job(tmp_path / "c", frame, {"seed": "8"})

    assert digests(first) == digests(second)
    probe = frame.drop(columns=["label"])
    first_model = joblib.load(first / "model.joblib")
    second_model = joblib.load(second / "model.joblib")
    np.testing.assert_array_equal(
        first_model.predict_proba(probe), second_model.predict_proba(probe)
    )
    assert digests(first)["model.joblib"] != digests(other_seed)["model.joblib"]


def test_logistic_regression_and_a_validation_channel(tmp_path: Path) -> None:
    layout = job_layout(
        tmp_path,
        churn_frame(300, seed=1),
        {"algorithm": "logistic_regression", "c": "0.5"},
        validation=churn_frame(100, seed=2),
    )
    env = TrainingEnvironment.from_environ(layout.environment(["train", "validation"]))

    outcome = run(env, {})

    card = outcome.model_card
    assert card["model"]["algorithm"] == "logistic_regression"
    assert card["holdout"] == "validation"
    assert card["rows"] == {"train": 300, "holdout": 100}
    assert (card["dataset"], card["git_commit"]) == ("unknown", "unknown")
    model = joblib.load(layout.model_dir / "model.joblib")
    assert model.named_steps["classifier"].C == 0.5


def test_missing_values_and_unseen_categories_are_handled(tmp_path: Path) -> None:
    frame = churn_frame()
    frame.loc[::10, "n2"] = np.nan
    frame.loc[::7, "region"] = None
    model_dir = run_job(tmp_path, frame)
    model = joblib.load(model_dir / "model.joblib")

    unseen = frame.drop(columns=["label"]).head(3).assign(plan="enterprise")

    assert np.isfinite(model.predict_proba(unseen)).all()


def test_reads_the_opt_ml_paths_when_no_variables_are_set(tmp_path: Path) -> None:
    layout = job_layout(tmp_path, churn_frame(), {"seed": "3", "sagemaker_program": "x.py"})

    env = TrainingEnvironment.from_environ({}, root=tmp_path)

    assert env.model_dir == layout.model_dir
    assert env.channels == {"train": layout.channel_dir("train")}
    assert env.hyperparameters == {"seed": "3", "sagemaker_program": "x.py"}
    assert TrainParams.from_hyperparameters(env.hyperparameters).seed == 3


def test_sm_hps_takes_precedence_over_the_file(tmp_path: Path) -> None:
    layout = job_layout(tmp_path, churn_frame(), {"seed": "3"})
    variables = {**layout.environment(["train"]), "SM_HPS": json.dumps({"seed": 5})}

    env = TrainingEnvironment.from_environ(variables)

    assert env.hyperparameters == {"seed": 5}


@pytest.mark.parametrize(
    ("hyperparameters", "frame_change", "message"),
    [
        ({"n_estimator": "5"}, None, "unknown hyperparameter 'n_estimator'"),
        ({"learning_rate": "fast"}, None, "hyperparameter learning_rate='fast'"),
        ({"label": "churned"}, None, "no label column 'churned'"),
        ({}, "one_class", "label 'label' has 1 distinct value"),
        ({"categorical_features": "colour"}, None, "unknown column(s) colour"),
    ],
)
def test_bad_input_fails_the_job_with_a_failure_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hyperparameters: dict[str, str],
    frame_change: str | None,
    message: str,
) -> None:
    frame = churn_frame(120)
    if frame_change == "one_class":
        frame["label"] = 1
    layout = job_layout(tmp_path, frame, hyperparameters)
    for name, value in layout.environment(["train"]).items():
        monkeypatch.setenv(name, value)

    assert main([]) == 1

    assert message in layout.failure_file.read_text()
    assert list(layout.model_dir.iterdir()) == []


def test_hyperparameters_round_trip_as_strings() -> None:
    params = TrainParams.from_hyperparameters({"n_estimators": "50", "learning_rate": "0.05"})

    strings = params.to_hyperparameters()

    assert all(isinstance(value, str) for value in strings.values())
    assert strings["n_estimators"] == "50" and strings["learning_rate"] == "0.05"
    assert TrainParams.from_hyperparameters(strings) == params


def test_param_pairs_from_the_command_line() -> None:
    assert parse_param_pairs(["seed=7", "label = churned"]) == {"seed": "7", "label": "churned"}
    with pytest.raises(TrainingInputError, match="is not key=value"):
        parse_param_pairs(["seed"])
    with pytest.raises(TrainingInputError, match="given twice"):
        parse_param_pairs(["seed=1", "seed=2"])


def test_job_names_fit_sagemakers_rules() -> None:
    now = datetime(2026, 3, 4, 5, 6, 7, 891_000, tzinfo=UTC)

    assert training_job_name("mlops-platform-dev", now) == (
        "mlops-platform-dev-train-20260304-050607-891"
    )
    long_name = training_job_name("a" * 80 + "_x", now)
    assert len(long_name) <= 63
    assert long_name.endswith("-train-20260304-050607-891")
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", long_name)


def test_model_archives_are_reproducible_and_flat(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "model.joblib").write_bytes(b"model")
    (source / "metrics.json").write_text("{}")

    first = pack_directory(source, tmp_path / "a.tar.gz")
    (source / "metrics.json").touch()  # a new mtime must not change the archive
    second = pack_directory(source, tmp_path / "b.tar.gz")

    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        assert sorted(tar.getnames()) == ["metrics.json", "model.joblib"]
    unpacked = unpack_archive(first, tmp_path / "out")
    assert (unpacked / "model.joblib").read_bytes() == b"model"


def test_a_channel_file_round_trips_the_frame_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=500) * 1e-3, "y": rng.exponential(size=500)})
    frame["plan"] = rng.choice(["a", "b"], 500)

    write_channel(frame, tmp_path, "train")
    back = read_channel(tmp_path)

    np.testing.assert_array_equal(back[["x", "y"]].to_numpy(), frame[["x", "y"]].to_numpy())
    assert back["plan"].tolist() == frame["plan"].tolist()
