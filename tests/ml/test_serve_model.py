"""The model a server loads: the training artifact's contract (feature order and kinds,
positive class) and safe unpacking. Also the helpers the other serving tests build on."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from infra.outputs import StackOutputs
from ml.drift import BASELINE_FILENAME, FeatureKind, fit_baseline
from ml.serve import ModelArtifactError, ModelLoadError, ServedModel, extract_model

SEED = 7
# The card's (request) order differs from the order the pipeline was fitted in, on purpose:
# the server must reorder columns for scikit-learn.
FEATURES = ("age", "income", "plan")
FIT_ORDER = ("plan", "income", "age")
KINDS = {"age": "numeric", "income": "numeric", "plan": "categorical"}
ACCOUNT = "123456789012"
REGION = "us-east-1"


def training_frame(rows: int = 80, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "pro", "team"], rows),
            "income": rng.normal(50_000, 12_000, rows).round(0),
            "age": rng.integers(18, 80, rows).astype(float),
        }
    )
    score = 0.04 * (frame["age"] - 45) + 0.00005 * (frame["income"] - 50_000)
    frame["label"] = (score + rng.normal(0, 0.5, rows) > 0).astype(int)
    return frame


def fit_pipeline(frame: pd.DataFrame) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), ["income", "age"]),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    pipeline = Pipeline([("features", features), ("classifier", LogisticRegression())])
    return pipeline.fit(frame[list(FIT_ORDER)], frame["label"])


def build_model_dir(
    directory: Path, *, card: dict[str, Any] | None = None, seed: int = SEED
) -> Path:
    """A model directory as `ml.train` leaves it: model, card, baseline, metrics."""
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    frame = training_frame(seed=seed)
    pipeline = fit_pipeline(frame)
    joblib.dump(pipeline, directory / "model.joblib")
    card = card or {
        "features": [{"name": name, "kind": KINDS[name]} for name in FEATURES],
        "classes": [0, 1],
        "positive_class": 1,
        "label": "label",
    }
    (directory / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    baseline = fit_baseline(frame[list(FEATURES)], KINDS)
    baseline.save(directory / BASELINE_FILENAME)
    (directory / "metrics.json").write_text(json.dumps({"auc": 0.8}), encoding="utf-8")
    return directory


def build_archive(model_dir: Path, archive: Path) -> Path:
    """model.tar.gz with the directory's files at its top level, as SageMaker expects."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def expected_probabilities(model_dir: Path, rows: pd.DataFrame) -> np.ndarray:
    """The pipeline run in-process on `rows` (any column order): P(label == 1)."""
    import joblib

    pipeline = joblib.load(model_dir / "model.joblib")
    return np.asarray(pipeline.predict_proba(rows[list(FIT_ORDER)])[:, 1])


def sample_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [25.0, 61.0, 44.0],
            "income": [31_000.0, 72_000.0, 50_500.0],
            "plan": ["basic", "team", "pro"],
        }
    )


def make_outputs(**overrides: Any) -> StackOutputs:
    """A test stack's outputs; tests create the buckets, key and group they use."""
    prefix = "mlops-test"
    values: dict[str, Any] = {
        "stack": "test",
        "name_prefix": prefix,
        "environment": "dev",
        "region": REGION,
        "account_id": ACCOUNT,
        "datasets_bucket": f"{prefix}-datasets",
        "models_bucket": f"{prefix}-models",
        "capture_bucket": f"{prefix}-capture",
        "logs_bucket": f"{prefix}-logs",
        "data_kms_key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/test-data-key",
        "ecr_repository_url": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{prefix}-models",
        "model_package_group_name": f"{prefix}-models",
        "registry_auto_approve": True,
        "gate_metric": "auc",
        "gate_minimum": 0.7,
        "gate_max_regression": 0.01,
        "training_runner": "local",
        "training_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-sagemaker",
        "training_instance_types": ["ml.m5.large"],
        "training_max_instances": 1,
        "training_max_runtime_seconds": 3600,
        "training_spot": False,
        "training_output_path": f"s3://{prefix}-models/training/",
        "training_checkpoint_path": f"s3://{prefix}-models/checkpoints/",
        "training_subnet_ids": [],
        "training_security_group_ids": [],
        "endpoint_name": f"{prefix}-endpoint",
        "endpoint_deployed": True,
        "endpoint_capture_path": f"s3://{prefix}-capture/{prefix}-endpoint/",
        "metrics_namespace": "MLOps",
        "alert_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{prefix}-alerts",
        "drift_threshold": 0.2,
        "prediction_drift_threshold": 0.1,
        "min_accuracy": 0.7,
        "retraining_queue_url": "",
        "deploy_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-deploy",
        "preview_role_arn": "",
        "monitoring_role_arn": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-monitoring",
    }
    values.update(overrides)
    if "endpoint_capture_path" not in overrides:  # follow an overridden bucket or endpoint
        values["endpoint_capture_path"] = (
            f"s3://{values['capture_bucket']}/{values['endpoint_name']}/"
        )
    return StackOutputs(**values)


# --- tests ----------------------------------------------------------------------------


def test_loads_the_features_in_card_order_with_their_kinds(tmp_path: Path) -> None:
    model = ServedModel.load(build_model_dir(tmp_path / "model"))

    assert model.features.names == FEATURES
    assert model.features.kind("plan") is FeatureKind.CATEGORICAL
    assert model.features.kind("age") is FeatureKind.NUMERIC


def test_kinds_come_from_the_drift_baseline_when_the_card_has_only_names(tmp_path: Path) -> None:
    card = {"feature_names": list(FEATURES)}
    model = ServedModel.load(build_model_dir(tmp_path / "model", card=card))

    assert model.features.kind("plan") is FeatureKind.CATEGORICAL
    assert model.features.kind("income") is FeatureKind.NUMERIC


def test_predicts_the_positive_class_whatever_the_column_order(tmp_path: Path) -> None:
    model_dir = build_model_dir(tmp_path / "model")
    model = ServedModel.load(model_dir)
    rows = sample_rows()

    np.testing.assert_allclose(
        model.predict(rows), expected_probabilities(model_dir, rows), rtol=0, atol=1e-12
    )


def test_a_positive_class_named_in_the_card_is_used(tmp_path: Path) -> None:
    card = {"feature_names": list(FEATURES), "positive_class": 0}
    model_dir = build_model_dir(tmp_path / "model", card=card)
    rows = sample_rows()

    np.testing.assert_allclose(
        ServedModel.load(model_dir).predict(rows),
        1 - expected_probabilities(model_dir, rows),
        atol=1e-12,
    )


def test_a_directory_without_the_model_is_refused_by_name(tmp_path: Path) -> None:
    model_dir = build_model_dir(tmp_path / "model")
    (model_dir / "model.joblib").unlink()

    with pytest.raises(ModelLoadError, match=r"model\.joblib not found"):
        ServedModel.load(model_dir)


def test_a_card_that_disagrees_with_the_model_is_refused(tmp_path: Path) -> None:
    card = {"feature_names": ["age", "income", "region"]}

    with pytest.raises(ModelLoadError, match="'region'.*fitted on"):
        ServedModel.load(build_model_dir(tmp_path / "model", card=card))


def test_a_card_without_features_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no feature list"):
        ServedModel.load(build_model_dir(tmp_path / "model", card={"label": "label"}))


def test_an_archive_unpacks_to_a_loadable_model(tmp_path: Path) -> None:
    archive = build_archive(build_model_dir(tmp_path / "model"), tmp_path / "model.tar.gz")

    unpacked = extract_model(archive, tmp_path / "unpacked")

    assert ServedModel.load(unpacked).features.names == FEATURES


def test_an_archive_escaping_its_directory_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"x"
        info = tarfile.TarInfo("../outside.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with pytest.raises(ModelArtifactError, match="not a readable tar archive"):
        extract_model(archive, tmp_path / "unpacked")
    assert not (tmp_path / "outside.txt").exists()


def test_an_archive_of_the_directory_itself_is_refused_with_the_fix(tmp_path: Path) -> None:
    model_dir = build_model_dir(tmp_path / "model")
    archive = tmp_path / "nested.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir, arcname="model")

    with pytest.raises(ModelArtifactError, match="no top-level model.joblib.*contents"):
        extract_model(archive, tmp_path / "unpacked")
