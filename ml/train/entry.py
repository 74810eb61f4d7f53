"""The training job: one script for a SageMaker training container and for the local runner.

    python -m ml.train.entry [train]

It reads the ``train`` channel (and ``validation`` when given; otherwise it holds out a
seeded, stratified share of ``train``), fits the reference model, and writes into the model
directory ``model.joblib``, the drift baseline, ``metrics.json`` and ``model_card.json``
(see ``ml.train.artifacts``), plus the holdout's scores into the output data directory.

It needs no network and no AWS credentials (jobs run with network isolation): MLflow
tracking and uploads happen on the submitting side. Provenance the platform cannot pass as
hyperparameters arrives in the job's environment: ``MLOPS_DATASET`` (the dataset reference)
and ``MLOPS_GIT_COMMIT``. Holdout metrics are also logged as ``holdout:<name>=<value>`` lines,
which the SageMaker runner's metric definitions turn into job metrics.

On failure it writes the reason to ``/opt/ml/output/failure`` (SageMaker reports it as the
job's FailureReason; the local runner does the same) and exits non-zero.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ml.train.contract import TRAIN_CHANNEL, VALIDATION_CHANNEL, TrainingEnvironment
from ml.train.errors import TrainingInputError

log = logging.getLogger("ml.train.entry")

DATASET_ENV: Final = "MLOPS_DATASET"
GIT_COMMIT_ENV: Final = "MLOPS_GIT_COMMIT"
UNKNOWN: Final = "unknown"
METRIC_LINE_PREFIX: Final = "holdout:"
HOLDOUT_PREDICTIONS_FILE: Final = "holdout_predictions.csv"


@dataclass(frozen=True)
class TrainingOutcome:
    """What one run produced (the files are in the model directory)."""

    metrics: dict[str, float]
    model_card: dict[str, Any]
    files: tuple[Path, ...]


def run(env: TrainingEnvironment, environ: Mapping[str, str] | None = None) -> TrainingOutcome:
    """Train on the job's channels and write its artifacts; raises on bad input."""
    from ml.drift import fit_baseline
    from ml.evaluate import classification_metrics
    from ml.train import artifacts
    from ml.train.frame import (
        PREDICTION_COLUMN,
        check_training_frame,
        feature_kinds,
        read_channel,
    )
    from ml.train.model import fit_model, positive_probability, split_holdout
    from ml.train.params import TrainParams

    variables = os.environ if environ is None else environ
    params = TrainParams.from_hyperparameters(env.hyperparameters)
    if TRAIN_CHANNEL not in env.channels:
        raise TrainingInputError(
            f"the job has no {TRAIN_CHANNEL!r} channel (channels: "
            f"{', '.join(env.channels) or 'none'}); give it one"
        )
    data = read_channel(env.channels[TRAIN_CHANNEL])
    check_training_frame(data, params.label, f"the {TRAIN_CHANNEL} channel")
    if VALIDATION_CHANNEL in env.channels:
        train = data
        holdout = read_channel(env.channels[VALIDATION_CHANNEL])
        check_training_frame(holdout, params.label, f"the {VALIDATION_CHANNEL} channel")
    else:
        train, holdout = split_holdout(data, params)

    kinds = feature_kinds(train, params.label, params.categorical)
    log.info("training %s on %d rows, %d features", params.algorithm, len(train), len(kinds))
    model = fit_model(train, kinds, params)
    classes = list(model.classes_)
    holdout_score = positive_probability(model, holdout)
    metrics = classification_metrics(
        (holdout[params.label] == classes[1]).to_numpy(), holdout_score
    )
    metrics["train_rows"] = float(len(train))
    for name, value in metrics.items():
        log.info("%s%s=%.10g", METRIC_LINE_PREFIX, name, value)

    features = train[list(kinds)].assign(**{PREDICTION_COLUMN: positive_probability(model, train)})
    baseline = fit_baseline(features, kinds, prediction=PREDICTION_COLUMN)

    card = {
        "schema": artifacts.MODEL_CARD_SCHEMA,
        "model": {
            "algorithm": params.algorithm.value,
            "framework": "scikit-learn",
            "framework_version": _version("scikit-learn"),
            "python_version": platform.python_version(),
        },
        "label": params.label,
        "classes": [_plain(c) for c in classes],
        "positive_class": _plain(classes[1]),
        "features": [{"name": name, "kind": kind.value} for name, kind in kinds.items()],
        "prediction_column": PREDICTION_COLUMN,
        "dataset": variables.get(DATASET_ENV) or UNKNOWN,
        "git_commit": variables.get(GIT_COMMIT_ENV) or UNKNOWN,
        "params": params.to_hyperparameters(),
        "rows": {"train": len(train), "holdout": len(holdout)},
        "holdout": VALIDATION_CHANNEL if VALIDATION_CHANNEL in env.channels else "split",
        "metrics": metrics,
        "artifacts": list(artifacts.ARTIFACT_FILES),
    }

    import joblib

    env.model_dir.mkdir(parents=True, exist_ok=True)
    model_file = env.model_dir / artifacts.MODEL_FILENAME
    joblib.dump(model, model_file)
    files = (
        model_file,
        baseline.save(env.model_dir / artifacts.BASELINE_FILENAME),
        artifacts.write_json(env.model_dir / artifacts.METRICS_FILENAME, metrics),
        artifacts.write_json(env.model_dir / artifacts.MODEL_CARD_FILENAME, card),
    )
    env.output_data_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({params.label: holdout[params.label], PREDICTION_COLUMN: holdout_score}).to_csv(
        env.output_data_dir / HOLDOUT_PREDICTIONS_FILE, index=False
    )
    return TrainingOutcome(metrics=metrics, model_card=card, files=files)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job in the current environment; 0 on success, 1 (and a failure file) if not."""
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s"
    )
    if args not in ([], ["train"]):  # SageMaker runs a bring-your-own image with "train"
        log.error("usage: python -m ml.train.entry [train]; got %s", args)
        return 2
    env: TrainingEnvironment | None = None
    try:
        env = TrainingEnvironment.from_environ()
        outcome = run(env)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        log.exception("training failed: %s", reason)
        _write_failure(env, reason)
        return 1
    log.info("wrote %s", ", ".join(path.name for path in outcome.files))
    return 0


def _write_failure(env: TrainingEnvironment | None, reason: str) -> None:
    try:
        target = (env or TrainingEnvironment.from_environ()).failure_file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(reason[:1024], encoding="utf-8")  # SageMaker keeps 1 KB of it
    except (OSError, ValueError):
        log.exception("could not write the failure file")


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def _plain(value: Any) -> Any:
    """A label value as JSON can hold it (numpy scalars become Python ones)."""
    return value.item() if hasattr(value, "item") else value


if __name__ == "__main__":
    sys.exit(main())
