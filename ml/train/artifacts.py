"""What a training job leaves in its model directory, and the archive SageMaker makes of it.

    model.joblib          the fitted scikit-learn Pipeline
    drift_baseline.json   ml.drift baseline of the training rows and the model's score
    metrics.json          holdout metrics (ml.evaluate.classification_metrics) and row counts
    model_card.json       features and kinds, label and classes, dataset, hyperparameters, commit

The directory is packed as ``model.tar.gz`` deterministically (sorted names, zero times and
owners, fixed modes, no gzip name or timestamp) and none of the files holds a clock reading, so the
same data and hyperparameters give the same archive, byte for byte.

``load_model`` unpickles: only load artifacts from the stack's own encrypted models bucket.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any, Final

from ml.drift import BASELINE_FILENAME

MODEL_FILENAME: Final = "model.joblib"
METRICS_FILENAME: Final = "metrics.json"
MODEL_CARD_FILENAME: Final = "model_card.json"
MODEL_ARCHIVE: Final = "model.tar.gz"
OUTPUT_ARCHIVE: Final = "output.tar.gz"
MODEL_CARD_SCHEMA: Final = "mlops.model_card/v1"
ARTIFACT_FILES: Final = (MODEL_FILENAME, BASELINE_FILENAME, METRICS_FILENAME, MODEL_CARD_FILENAME)


def write_json(path: Path, data: Any) -> Path:
    """Stable JSON (sorted keys, strict: no NaN) with a trailing newline."""
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def pack_directory(directory: Path, archive: Path) -> Path:
    """Tar and gzip a directory's contents (paths relative to it), reproducibly."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(directory.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(directory).as_posix())
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if info.isdir() else 0o644
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        gz.write(buffer.getvalue())
    return archive


def unpack_archive(archive: Path, directory: Path) -> Path:
    """Extract a model archive; the "data" filter refuses links and paths leaving it."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode="r:gz") as tar:
        tar.extractall(directory, filter="data")
    return directory


def read_metrics(model_dir: Path) -> dict[str, float]:
    data = json.loads((model_dir / METRICS_FILENAME).read_text(encoding="utf-8"))
    return {str(k): float(v) for k, v in data.items()}


def read_model_card(model_dir: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((model_dir / MODEL_CARD_FILENAME).read_text("utf-8"))
    return card


def load_model(model_dir: Path) -> Any:
    """The fitted Pipeline from ``model.joblib`` (a pickle: trusted sources only)."""
    import joblib

    return joblib.load(model_dir / MODEL_FILENAME)
