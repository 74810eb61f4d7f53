"""Ground-truth labels, joined to captured predictions by inference id; live accuracy.

A labels file is CSV with a header, or JSON Lines:

    inferenceId,label[,row]          {"inferenceId": "...", "label": "1"[, "row": 0]}

`row` is the row's index within its request (0, the default, for one-row requests). JSON
Lines may also hold SageMaker Model Monitor's ground-truth records,
`{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."},
"eventVersion": "0"}`, whose id is matched like an inference id. A captured request is
joined on its `inferenceId`, or on its `eventId` when the caller sent none.

How a prediction becomes a class: a categorical prediction, or a numeric one whose values
are all whole numbers (class ids), is compared with the label as text; a numeric prediction
with fractional values is a score, and the class is 1 when it reaches the decision
threshold (0.5 by default), else 0. Labels `true`/`false` read as 1/0; with
`positive_label` (the class the score is the probability of, e.g. "yes"), that label reads
as 1 and every other as 0.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ml.monitor.capture_store import CaptureBatch

DEFAULT_DECISION_THRESHOLD: Final = 0.5
ID, LABEL, ROW = "inferenceId", "label", "row"
_MAX_FAILURES_SHOWN = 5

_SCHEMA = pa.DataFrameSchema(
    {
        ID: pa.Column(str, nullable=False, checks=pa.Check.str_length(min_value=1)),
        LABEL: pa.Column(str, nullable=False),
        ROW: pa.Column(int, pa.Check.ge(0), coerce=True),
    },
    unique=[ID, ROW],
    strict="filter",  # other columns (timestamps, notes) are allowed and ignored
)


class LabelsError(ValueError):
    """A labels file that cannot be used; the message names the file, the problem and the fix."""


def read_labels(path: Path | str, text: str | None = None) -> pd.DataFrame:
    """Labels as a frame (inferenceId, label, row); `text` is the file's content if already
    read (e.g. from S3), else `path` is read."""
    where = str(path)
    content = Path(path).read_text(encoding="utf-8") if text is None else text
    name = where.lower()
    if name.endswith((".jsonl", ".json", ".ndjson")):
        frame = _from_json_lines(content, where)
    elif name.endswith(".csv"):
        frame = _from_csv(content, where)
    else:
        raise LabelsError(f"labels file {where}: use a .csv or .jsonl file")
    if ID not in frame.columns or LABEL not in frame.columns:
        raise LabelsError(
            f"labels file {where}: needs columns {ID!r} and {LABEL!r}; found "
            f"{', '.join(map(str, frame.columns)) or 'none'}"
        )
    if ROW not in frame.columns:
        frame[ROW] = 0
    frame[LABEL] = frame[LABEL].map(_label_text, na_action="ignore")
    try:
        return _SCHEMA.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise LabelsError(f"labels file {where}: {_failures(exc.failure_cases)}") from None


def _from_csv(content: str, where: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(content), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LabelsError(f"labels file {where}: not CSV with a header: {exc}") from None


def _from_json_lines(content: str, where: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"labels file {where}, line {number}: not JSON: {exc}") from None
        if not isinstance(item, dict):
            raise LabelsError(f"labels file {where}, line {number}: not a JSON object")
        rows.append(_ground_truth(item) if "groundTruthData" in item else item)
    return pd.DataFrame(rows, dtype=object)


def _ground_truth(item: dict[str, Any]) -> dict[str, Any]:
    """A SageMaker ground-truth record as (inferenceId, label)."""
    metadata = item.get("eventMetadata") or {}
    data = (item.get("groundTruthData") or {}).get("data")
    return {ID: metadata.get("inferenceId") or metadata.get("eventId"), LABEL: data}


def _failures(cases: pd.DataFrame) -> str:
    problems = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        rows = ", ".join(str(int(i) + 1) for i in group["index"].dropna().unique()[:5])
        problems.append(f"{column}: {check} fails at data row(s) {rows}")
    shown = problems[:_MAX_FAILURES_SHOWN]
    more = len(problems) - len(shown)
    return (
        "; ".join(shown)
        + (f" (and {more} more)" if more > 0 else "")
        + f". Fix: every line needs a non-empty {ID!r} and {LABEL!r}, each ({ID}, {ROW}) once"
    )


def _label_text(value: Any) -> str:
    """A label or a predicted class as comparable text: 1, 1.0 and "1" are "1"."""
    text = str(value).strip()
    if text.lower() in {"true", "false"}:
        return "1" if text.lower() == "true" else "0"
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


@dataclass(frozen=True)
class AccuracyResult:
    """Live accuracy over the captured rows that have a label."""

    accuracy: float | None
    """None when no captured prediction has a label."""
    matched: int
    correct: int
    unlabelled_rows: int
    """Captured predictions with no label (yet)."""
    unmatched_labels: int
    """Labels with no captured prediction in the window."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "matched": self.matched,
            "correct": self.correct,
            "unlabelled_rows": self.unlabelled_rows,
            "unmatched_labels": self.unmatched_labels,
        }


def predicted_classes(predictions: pd.Series, decision_threshold: float) -> pd.Series:
    """Predictions as class text (see the module docstring for the rule)."""
    present = predictions.dropna()
    if pd.api.types.is_numeric_dtype(predictions):
        values = present.to_numpy(dtype=np.float64)
        if values.size and not np.all(values == np.floor(values)):
            classes = np.where(values >= decision_threshold, "1", "0")
            return pd.Series(classes, index=present.index, dtype=object)
    return present.map(_label_text)


def accuracy(
    batch: CaptureBatch,
    labels: pd.DataFrame,
    decision_threshold: float = DEFAULT_DECISION_THRESHOLD,
    positive_label: str | None = None,
) -> AccuracyResult:
    """Join labels to the batch's predictions on (inference id, row) and score them."""
    classes = predicted_classes(batch.frame[batch.prediction_column], decision_threshold)
    if positive_label is not None:
        positive = _label_text(positive_label)
        labels = labels.assign(**{LABEL: (labels[LABEL] == positive).map({True: "1", False: "0"})})
    predicted = pd.DataFrame(
        {
            ID: batch.meta.loc[classes.index, "join_id"].to_numpy(),
            ROW: batch.meta.loc[classes.index, "row"].to_numpy(dtype=np.int64),
            "predicted": classes.to_numpy(),
        }
    )
    truth = labels[[ID, LABEL, ROW]].astype({ROW: np.int64})
    joined = predicted.merge(truth, on=[ID, ROW], how="outer", indicator=True)
    both = joined[joined["_merge"] == "both"]
    matched = len(both)
    correct = int((both["predicted"] == both[LABEL]).sum())
    return AccuracyResult(
        accuracy=correct / matched if matched else None,
        matched=matched,
        correct=correct,
        unlabelled_rows=int((joined["_merge"] == "left_only").sum()),
        unmatched_labels=int((joined["_merge"] == "right_only").sum()),
    )
