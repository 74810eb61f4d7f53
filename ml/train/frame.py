"""Training frames: checks, feature kinds, and channel files (pandas only, no scikit-learn).

Channels hold CSV: every SageMaker container reads it, it needs no extra library, and pandas
writes floats in their shortest round-trip form and ``read_channel`` parses them exactly, so
a frame's numbers survive the trip bit for bit. Parquet files
in a channel are read too when pyarrow is installed.

Feature kinds are inferred from dtypes: numbers are numeric; text, categories and booleans
are categorical. A categorical column coded as numbers (say, region ids) must be named in
the ``categorical_features`` hyperparameter, since after a CSV trip it looks numeric.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ml.drift import FeatureKind
from ml.train.errors import TrainingInputError

PREDICTION_COLUMN: Final = "prediction"
"""Column of the drift baseline that summarises the model's positive-class probability."""
_READERS: Final = {".csv": "csv", ".parquet": "parquet"}
# pandas 3 parses floats exactly by default (and deprecates the option); pandas 2's default
# parser can be one ulp off, so it is asked for round-trip parsing.
_CSV_OPTIONS: Final[dict[str, Any]] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
)


def check_training_frame(frame: pd.DataFrame, label: str, where: str = "the dataset") -> None:
    """Reject a frame the job cannot learn from, before anything is uploaded or submitted."""
    if label not in frame.columns:
        raise TrainingInputError(
            f"{where} has no label column {label!r} (columns: "
            f"{', '.join(map(str, frame.columns))}); set the label hyperparameter, "
            "e.g. --param label=churned"
        )
    if frame.columns.duplicated().any():
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise TrainingInputError(f"{where} has duplicated columns: {', '.join(duplicated)}")
    if len(frame.columns) < 2:
        raise TrainingInputError(f"{where} has no feature columns besides {label!r}")
    if PREDICTION_COLUMN in frame.columns:
        raise TrainingInputError(
            f"{where} has a column named {PREDICTION_COLUMN!r}, which the drift baseline "
            "reserves for the model's score; rename it"
        )
    missing = int(frame[label].isna().sum())
    if missing:
        raise TrainingInputError(f"{where}: label {label!r} is missing in {missing} row(s)")
    classes = frame[label].nunique()
    if classes != 2:
        raise TrainingInputError(
            f"{where}: label {label!r} has {classes} distinct value(s); "
            "the reference model is a binary classifier and needs exactly 2"
        )


def feature_kinds(
    frame: pd.DataFrame, label: str, categorical: Iterable[str] = ()
) -> dict[str, FeatureKind]:
    """Every column except the label, in frame order, with its kind."""
    forced = set(categorical)
    unknown = sorted(forced - set(map(str, frame.columns)))
    if unknown:
        raise TrainingInputError(
            f"categorical_features names unknown column(s) {', '.join(unknown)}; "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    kinds: dict[str, FeatureKind] = {}
    for name in frame.columns:
        if name == label:
            continue
        dtype = frame[name].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        is_numeric = numeric and name not in forced
        kinds[str(name)] = FeatureKind.NUMERIC if is_numeric else FeatureKind.CATEGORICAL
    return kinds


def write_channel(frame: pd.DataFrame, directory: Path, name: str) -> Path:
    """Write a frame as ``<directory>/<name>.csv``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def read_channel(directory: Path) -> pd.DataFrame:
    """Every CSV (and Parquet) file of a channel, in name order, as one frame."""
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in _READERS)
    if not files:
        raise TrainingInputError(
            f"channel directory {directory} holds no .csv or .parquet file; "
            "check the channel's S3 prefix"
        )
    parts = []
    for path in files:
        if _READERS[path.suffix.lower()] == "csv":
            parts.append(pd.read_csv(path, **_CSV_OPTIONS))
        else:
            parts.append(pd.read_parquet(path))
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
