"""The model a server answers with: the training job's artifact, unpacked in a directory.

`model.tar.gz` (from `ml.train`) holds:
    model.joblib         a fitted scikit-learn Pipeline: DataFrame with named columns ->
                         predict_proba (a binary classifier)
    model_card.json      the features in the order CSV requests list them, under
                         "feature_names" (strings) or "features" (strings, or objects with
                         "name" and optionally "kind"), optionally "feature_kinds"
                         {name: "numeric"|"categorical"} and "positive_class"
    drift_baseline.json  `ml.drift.Baseline`: also gives each feature's kind
    metrics.json         holdout metrics (not needed to serve)

A feature's kind (how a request value is parsed) comes from the card, else the drift
baseline, else it is numeric. The joblib file is a pickle: it is only ever loaded from the
stack's own encrypted, versioned models bucket, never from a request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ml.drift import BASELINE_FILENAME, Baseline, BaselineFormatError, FeatureKind

MODEL_FILENAME: Final = "model.joblib"
CARD_FILENAME: Final = "model_card.json"
METRICS_FILENAME: Final = "metrics.json"
DEFAULT_MODEL_DIR: Final = Path("/opt/ml/model")  # where SageMaker unpacks ModelDataUrl


class ModelLoadError(RuntimeError):
    """The model directory cannot be served; the message names the file and the fix."""


@dataclass(frozen=True)
class FeatureSpec:
    """The request columns: names in CSV order, and how each value is parsed."""

    names: tuple[str, ...]
    kinds: Mapping[str, FeatureKind]

    def kind(self, name: str) -> FeatureKind:
        return self.kinds.get(name, FeatureKind.NUMERIC)


class ServedModel:
    """A loaded pipeline and its feature contract; `predict` gives P(positive class)."""

    def __init__(
        self,
        pipeline: Any,
        features: FeatureSpec,
        *,
        positive_index: int = 1,
        fitted_order: Sequence[str] | None = None,
        model_dir: Path | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.features = features
        self.positive_index = positive_index
        # sklearn checks that columns come in the order seen at fit time.
        self.fitted_order = list(fitted_order) if fitted_order is not None else None
        self.model_dir = model_dir

    @classmethod
    def load(cls, model_dir: Path) -> ServedModel:
        """Load `model_dir` (an unpacked model.tar.gz); `ModelLoadError` says what is wrong."""
        import joblib

        model_dir = Path(model_dir)
        model_path = model_dir / MODEL_FILENAME
        if not model_path.is_file():
            present = sorted(p.name for p in model_dir.iterdir()) if model_dir.is_dir() else []
            raise ModelLoadError(
                f"{model_path} not found (the directory holds {present or 'nothing'}). Fix: "
                f"point --model-dir at an unpacked model.tar.gz from the training job"
            )
        card = _read_card(model_dir / CARD_FILENAME)
        names, card_kinds = _card_features(card, model_dir / CARD_FILENAME)
        kinds = {**_baseline_kinds(model_dir / BASELINE_FILENAME, names), **card_kinds}
        try:
            pipeline = joblib.load(model_path)
        except Exception as error:  # unpickling can raise anything the pickle references
            raise ModelLoadError(
                f"cannot load {model_path}: {type(error).__name__}: {error}. Fix: serve with "
                "the scikit-learn version the model was trained with"
            ) from error
        positive = _positive_index(pipeline, card, model_path)
        fitted = getattr(pipeline, "feature_names_in_", None)
        if fitted is not None and set(fitted) != set(names):
            raise ModelLoadError(
                f"{CARD_FILENAME} lists features {list(names)} but {MODEL_FILENAME} was fitted "
                f"on {list(fitted)}. Fix: rebuild the artifact so that the card matches the model"
            )
        return cls(
            pipeline,
            FeatureSpec(names, kinds),
            positive_index=positive,
            fitted_order=list(fitted) if fitted is not None else None,
            model_dir=model_dir,
        )

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """P(positive class) per row of `frame` (columns named as in `features.names`)."""
        ordered = frame[self.fitted_order] if self.fitted_order is not None else frame
        probabilities = np.asarray(self.pipeline.predict_proba(ordered), dtype=np.float64)
        return probabilities[:, self.positive_index]


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(
            f"{path} not found: it lists the features in request order. Fix: rebuild the "
            "artifact with the training job, which writes it"
        ) from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path} is not readable JSON: {error}") from error
    if not isinstance(card, dict):
        raise ModelLoadError(f"{path} must hold a JSON object, not {type(card).__name__}")
    return card


def _card_features(
    card: Mapping[str, Any], path: Path
) -> tuple[tuple[str, ...], dict[str, FeatureKind]]:
    entries = card.get("feature_names", card.get("features"))
    if not isinstance(entries, list) or not entries:
        raise ModelLoadError(
            f"{path} has no feature list: expected a non-empty 'feature_names' (or "
            f"'features') list, found keys {sorted(card)}. Fix: rebuild the artifact"
        )
    names: list[str] = []
    kinds: dict[str, FeatureKind] = {}
    declared = card.get("feature_kinds") or {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            raise ModelLoadError(f"{path}: feature entry {entry!r} has no name")
        names.append(name)
        kind = entry.get("kind") if isinstance(entry, dict) else declared.get(name)
        if kind is not None:
            try:
                kinds[name] = FeatureKind(kind)
            except ValueError:
                raise ModelLoadError(
                    f"{path}: feature {name!r} has kind {kind!r}; expected one of "
                    f"{[k.value for k in FeatureKind]}"
                ) from None
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ModelLoadError(f"{path} lists features more than once: {duplicates}")
    return tuple(names), kinds


def _baseline_kinds(path: Path, names: Sequence[str]) -> dict[str, FeatureKind]:
    if not path.is_file():
        return {}
    try:
        baseline = Baseline.load(path)
    except (BaselineFormatError, OSError, ValueError):
        return {}  # monitoring will report a bad baseline; serving only wants the kinds
    return {name: baseline.columns[name].kind for name in names if name in baseline.columns}


def _positive_index(pipeline: Any, card: Mapping[str, Any], model_path: Path) -> int:
    if not hasattr(pipeline, "predict_proba"):
        raise ModelLoadError(
            f"{model_path} holds a {type(pipeline).__name__} without predict_proba. Fix: "
            "train a probabilistic classifier"
        )
    classes = list(getattr(pipeline, "classes_", [0, 1]))
    if len(classes) != 2:
        raise ModelLoadError(
            f"{model_path} has classes {classes}; the server returns P(positive) of a binary "
            "classifier. Fix: train a binary classifier"
        )
    positive = card.get("positive_class", classes[1])
    matches = [
        i for i, value in enumerate(classes) if value == positive or str(value) == str(positive)
    ]
    if not matches:
        raise ModelLoadError(
            f"{CARD_FILENAME}: positive_class {positive!r} is not one of the model's classes "
            f"{classes}"
        )
    return matches[0]
