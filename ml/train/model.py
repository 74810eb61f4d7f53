"""The reference model: a scikit-learn Pipeline (ColumnTransformer + classifier), seeded.

Numeric columns are imputed with the median and standardised; categorical columns are
one-hot encoded (missing values become a category of their own; categories unseen in
training encode as all zeros, so serving never fails on a new value). The classifier is
gradient boosting or logistic regression, with ``random_state`` from the ``seed``
hyperparameter, and the holdout split is seeded the same way: the same data and
hyperparameters give the same model, to the byte.

The model is trained on the label's own values; its positive class is ``classes_[1]`` (the
larger value: 1, True, "yes"), and every probability in ``ml`` is that class's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml.drift import FeatureKind
from ml.train.errors import TrainingInputError
from ml.train.params import Algorithm, TrainParams


def build_pipeline(params: TrainParams, kinds: Mapping[str, FeatureKind]) -> Pipeline:
    """An unfitted pipeline for these feature kinds and hyperparameters."""
    numeric = [name for name, kind in kinds.items() if kind is FeatureKind.NUMERIC]
    categorical = [name for name, kind in kinds.items() if kind is FeatureKind.CATEGORICAL]
    transformers = []
    if numeric:
        scale = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        transformers.append(("numeric", scale, numeric))
    if categorical:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("categorical", encode, categorical))
    # Dense output: the models here are small, and one code path keeps results identical.
    features = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("features", features), ("classifier", _classifier(params))])


def _classifier(params: TrainParams) -> GradientBoostingClassifier | LogisticRegression:
    if params.algorithm is Algorithm.LOGISTIC_REGRESSION:
        return LogisticRegression(C=params.c, max_iter=params.max_iter, random_state=params.seed)
    return GradientBoostingClassifier(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        max_depth=params.max_depth,
        random_state=params.seed,
    )


def split_holdout(frame: pd.DataFrame, params: TrainParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded, stratified split into (train, holdout)."""
    try:
        train, holdout = train_test_split(
            frame,
            test_size=params.holdout_fraction,
            random_state=params.seed,
            stratify=frame[params.label],
        )
    except ValueError as exc:  # e.g. a class with a single row cannot be stratified
        raise TrainingInputError(
            f"cannot hold out {params.holdout_fraction:.0%} of {len(frame)} rows with both "
            f"classes on each side ({exc}); provide more rows or a validation channel"
        ) from None
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def fit_model(
    frame: pd.DataFrame, kinds: Mapping[str, FeatureKind], params: TrainParams
) -> Pipeline:
    """Fit the pipeline on the frame's features and label."""
    model = build_pipeline(params, kinds)
    model.fit(frame[list(kinds)], frame[params.label])
    return model


def positive_probability(model: Pipeline, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Probability of the positive class (``model.classes_[1]``) for each row."""
    columns = list(model.feature_names_in_)
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise TrainingInputError(f"the frame lacks the model's feature(s) {', '.join(missing)}")
    return np.asarray(model.predict_proba(frame[columns])[:, 1], dtype=np.float64)
