"""Find and read an endpoint's capture files for a window; turn the records into one frame.

SageMaker writes `<endpoint_capture_path><endpoint name>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`
(the capture path is the stack's `endpoint_capture_path` output). Listing goes hour folder by
hour folder, so a one-hour run lists one or two folders per variant however long the
endpoint has been capturing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from infra.outputs import StackOutputs
from ml.drift import Baseline, FeatureKind
from ml.monitor.capture import CaptureRecord, SkippedLine, read_lines
from ml.monitor.window import Window, hour_folder

CAPTURE_SUFFIX: Final = ".jsonl"
PREDICTION_COLUMN: Final = "prediction"
"""Column the predictions go to when the baseline names no prediction column."""
META_COLUMNS: Final = ("join_id", "row", "time", "variant")


class CaptureLocationError(ValueError):
    """The stack's capture path is not an s3:// URI."""


@dataclass(frozen=True)
class CaptureLocation:
    """Where one endpoint's capture files live: `s3://<bucket>/<prefix><variant>/...`."""

    bucket: str
    prefix: str

    @classmethod
    def of(cls, outputs: StackOutputs) -> CaptureLocation:
        parts = urlsplit(outputs.endpoint_capture_path)
        if parts.scheme != "s3" or not parts.netloc:
            raise CaptureLocationError(
                f"endpoint_capture_path {outputs.endpoint_capture_path!r} is not an s3:// URI; "
                "check the stack's outputs (`mlops outputs --stack ...`)"
            )
        base = parts.path.lstrip("/")
        if base and not base.endswith("/"):
            base += "/"
        return cls(parts.netloc, f"{base}{outputs.endpoint_name}/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class CaptureFile:
    key: str
    variant: str


def list_capture_files(s3: Any, location: CaptureLocation, window: Window) -> list[CaptureFile]:
    """The capture files in the hour folders that overlap `window`, per variant."""
    files: list[CaptureFile] = []
    for variant in capture_variants(s3, location):
        for hour in window.hours():
            prefix = f"{location.prefix}{variant}/{hour_folder(hour)}/"
            for key in _keys(s3, location.bucket, prefix):
                if key.endswith(CAPTURE_SUFFIX):
                    files.append(CaptureFile(key, variant))
    return files


def capture_variants(s3: Any, location: CaptureLocation) -> list[str]:
    """The production variants that have capture folders (e.g. `primary`)."""
    paginator = s3.get_paginator("list_objects_v2")
    variants: list[str] = []
    for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            variants.append(common["Prefix"][len(location.prefix) :].rstrip("/"))
    return variants


def _keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]


@dataclass(frozen=True)
class CaptureBatch:
    """The window's captured rows as one frame, and what could not be used."""

    frame: pd.DataFrame
    """Baseline features (training order) and the prediction column, one row per request row."""
    meta: pd.DataFrame
    """Aligned with `frame`: join_id (inference id, else event id), row (index within its
    request), time, variant."""
    prediction_column: str
    latencies_ms: tuple[float, ...]
    """Per-request model latency from the records' custom attributes (may be empty)."""
    records: int
    files: tuple[str, ...]
    skipped: tuple[SkippedLine, ...]
    outside_window: int = 0
    """Records in the listed folders whose inferenceTime lies outside the window."""
    invalid_values: dict[str, int] = field(default_factory=dict)
    """Per numeric column: values that were present but not numbers (counted as missing)."""

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def has_predictions(self) -> bool:
        return bool(self.frame[self.prediction_column].notna().any()) if self.rows else False


def read_capture(
    s3: Any, outputs: StackOutputs, window: Window, baseline: Baseline
) -> CaptureBatch:
    """Every captured row of the stack's endpoint whose inferenceTime lies in `window`."""
    location = CaptureLocation.of(outputs)
    files = list_capture_files(s3, location, window)
    prediction = prediction_column(baseline)
    found: list[tuple[CaptureRecord, str]] = []
    skipped: list[SkippedLine] = []
    for file in files:
        body = s3.get_object(Bucket=location.bucket, Key=file.key)["Body"].read()
        source = f"s3://{location.bucket}/{file.key}"
        records, bad = read_lines(
            _text_lines(body, source, skipped), source, baseline.features, prediction
        )
        found += [(record, file.variant) for record in records]
        skipped += bad
    return build_batch(
        found, baseline, window, [f"s3://{location.bucket}/{f.key}" for f in files], skipped
    )


def read_capture_files(
    paths: Sequence[Path], baseline: Baseline, window: Window | None = None, variant: str = ""
) -> CaptureBatch:
    """The same from local capture files (a downloaded folder, test fixtures)."""
    prediction = prediction_column(baseline)
    found: list[tuple[CaptureRecord, str]] = []
    skipped: list[SkippedLine] = []
    for path in paths:
        records, bad = read_lines(
            _text_lines(path.read_bytes(), str(path), skipped),
            str(path),
            baseline.features,
            prediction,
        )
        found += [(record, variant) for record in records]
        skipped += bad
    return build_batch(found, baseline, window, [str(p) for p in paths], skipped)


def _text_lines(body: bytes, source: str, skipped: list[SkippedLine]) -> Iterable[str]:
    # Decoded per line so that one line of invalid UTF-8 costs that line, not the file.
    for number, raw in enumerate(body.splitlines(), start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            skipped.append(SkippedLine(source, number, f"not UTF-8 text: {exc.reason}"))
            yield ""


def prediction_column(baseline: Baseline) -> str:
    return baseline.prediction or PREDICTION_COLUMN


def build_batch(
    found: Sequence[tuple[CaptureRecord, str]],
    baseline: Baseline,
    window: Window | None,
    files: Sequence[str],
    skipped: Sequence[SkippedLine],
) -> CaptureBatch:
    """One frame from parsed records, typed after the baseline; records outside `window`
    are dropped (and counted)."""
    kept = [(r, v) for r, v in found if window is None or r.inference_time in window]
    prediction = prediction_column(baseline)
    rows: list[tuple[Any, ...]] = []
    predictions: list[Any] = []
    meta: list[tuple[Any, ...]] = []
    for record, variant in kept:
        for index, values in enumerate(record.inputs):
            rows.append(values)
            predictions.append(None if record.predictions is None else record.predictions[index])
            meta.append((record.join_id, index, record.inference_time, variant))
    features = list(baseline.features)
    raw = pd.DataFrame(rows, columns=features, dtype=object) if rows else _empty(features)
    raw[prediction] = pd.Series(predictions, dtype=object)
    frame, invalid = _typed(raw, baseline, prediction)
    return CaptureBatch(
        frame=frame,
        meta=pd.DataFrame(meta, columns=list(META_COLUMNS)),
        prediction_column=prediction,
        latencies_ms=tuple(r.latency_ms for r, _ in kept if r.latency_ms is not None),
        records=len(kept),
        files=tuple(files),
        skipped=tuple(skipped),
        outside_window=len(found) - len(kept),
        invalid_values=invalid,
    )


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})


def _typed(
    raw: pd.DataFrame, baseline: Baseline, prediction: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Numeric columns as float64 (text that is not a number becomes NaN and is counted)."""
    frame = pd.DataFrame(index=raw.index)
    invalid: dict[str, int] = {}
    for name in raw.columns:
        column = baseline.columns.get(name)
        kind = column.kind if column is not None else FeatureKind.CATEGORICAL
        if name == prediction and column is None:
            kind = _guess_kind(raw[name])
        if kind is FeatureKind.NUMERIC:
            numbers = pd.to_numeric(raw[name], errors="coerce").astype(np.float64)
            bad = int((raw[name].notna() & numbers.isna()).sum())
            if bad:
                invalid[name] = bad
            frame[name] = numbers
        else:
            frame[name] = raw[name]
    return frame, invalid


def _guess_kind(values: pd.Series) -> FeatureKind:
    present = values.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    return (
        FeatureKind.NUMERIC if len(present) and numbers.notna().all() else FeatureKind.CATEGORICAL
    )
