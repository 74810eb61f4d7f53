"""Request and response bodies of `POST /invocations`, as SageMaker's built-in algorithms
take them.

    text/csv          rows without a header, one value per feature in the model card's
                      order; an empty cell is a missing value
    application/json  {"instances": [{feature: value, ...}, ...]} or [{...}, ...]

The answer is P(positive class) per row, in the Accept type (else the request's):
one number per line for CSV, {"predictions": [...]} for JSON.

Every problem becomes a `PayloadError` carrying the HTTP status and a message naming the row
(CSV: "row 2", 1-based line numbers; JSON: "instances[1]", 0-based as in the document), the
feature and the fix. At most `_MAX_REPORTED` problems are listed.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from ml.drift import FeatureKind
from ml.serve.model import FeatureSpec

Format = Literal["csv", "json"]
CSV_TYPE: Final = "text/csv"
JSON_TYPE: Final = "application/json"
MEDIA_TYPES: Final[dict[Format, str]] = {"csv": CSV_TYPE, "json": JSON_TYPE}
MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024  # SageMaker real-time InvokeEndpoint's limit
_MAX_REPORTED: Final = 5


class PayloadError(ValueError):
    """The request cannot be answered as sent: `status` is the HTTP status to return."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str | None) -> str:
    """`text/csv; charset=utf-8` -> `text/csv`."""
    return (header or "").split(";", 1)[0].strip().lower()


def request_format(content_type: str | None) -> Format:
    kind = media_type(content_type)
    for fmt, name in MEDIA_TYPES.items():
        if kind == name:
            return fmt
    raise PayloadError(
        f"Content-Type {content_type or '(none)'!r} is not supported. Fix: send "
        f'{CSV_TYPE} (rows without header) or {JSON_TYPE} ({{"instances": [...]}})',
        status=415,
    )


def response_format(accept: str | None, request: Format) -> Format:
    """The first supported type in Accept; the request's type for none or a wildcard."""
    offered = [media_type(part) for part in (accept or "").split(",") if part.strip()]
    if not offered:
        return request
    for kind in offered:
        if kind == "*/*" or kind == MEDIA_TYPES[request].split("/")[0] + "/*":
            return request
        for fmt, name in MEDIA_TYPES.items():
            if kind == name:
                return fmt
    raise PayloadError(
        f"Accept {accept!r} asks for none of the types this model returns. Fix: accept "
        f"{CSV_TYPE} or {JSON_TYPE}",
        status=406,
    )


def render(predictions: npt.NDArray[np.float64], fmt: Format) -> bytes:
    """The response body: the shortest text that round-trips each probability."""
    values = [float(p) for p in predictions]
    if fmt == "csv":
        return "".join(f"{value!r}\n" for value in values).encode()
    return json.dumps({"predictions": values}).encode()


class RequestParser:
    """Turns request bodies into typed frames for one model's features (the pandera schema
    is built once, when the model loads, not per request)."""

    def __init__(self, features: FeatureSpec) -> None:
        self.features = features
        self._schema = _schema(features)

    def warm_up(self) -> None:
        """Validate one all-missing row, so that pandera's lazily imported backends load
        at startup rather than on the first request (about 0.1 s)."""
        empty = pd.DataFrame([[None] * len(self.features.names)], columns=list(self.features.names))
        self._schema.validate(empty.astype(object), lazy=True)

    def parse(self, body: bytes, fmt: Format) -> pd.DataFrame:
        """The request rows as a frame with one typed column per feature (card order)."""
        if len(body) > MAX_PAYLOAD_BYTES:
            raise PayloadError(
                f"the payload is {len(body)} bytes; the limit is {MAX_PAYLOAD_BYTES}. Fix: "
                "send fewer rows per request, or use batch transform",
                status=413,
            )
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise PayloadError(
                f"the payload is not UTF-8 text ({error}). Fix: encode it as UTF-8"
            ) from None
        if fmt == "csv":
            rows, labels = _csv_rows(text, self.features)
        else:
            rows, labels = _json_rows(text, self.features)
        if not rows:
            raise PayloadError("the payload holds no rows. Fix: send at least one row")
        frame = pd.DataFrame(rows, columns=list(self.features.names), dtype=object)
        return self._typed(frame, labels)

    def _typed(self, frame: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
        """Coerce each column to its kind; list the cells that fail, by row and feature."""
        import pandera.errors

        try:
            return cast(pd.DataFrame, self._schema.validate(frame, lazy=True))
        except pandera.errors.SchemaErrors as errors:
            problems: list[str] = []
            for case in errors.failure_cases.itertuples(index=False):
                index = case.index
                if index is None or (isinstance(index, float) and math.isnan(index)):
                    continue  # pandera's column-level summary of the cells listed beside it
                problem = (
                    f"{labels[int(index)]}, feature {case.column!r}: {case.failure_case!r} "
                    "is not a finite number"
                )
                if problem not in problems:
                    problems.append(problem)
            if not problems:  # a failure pandera could not pin to a cell
                problems = [str(errors).splitlines()[0]]
            raise PayloadError(
                _listing(problems) + ". Fix: send numbers for numeric features"
            ) from None


def _csv_rows(text: str, features: FeatureSpec) -> tuple[list[list[Any]], list[str]]:
    expected = len(features.names)
    rows: list[list[Any]] = []
    labels: list[str] = []
    problems: list[str] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line (e.g. a trailing one)
        if number == 1 and [cell.strip() for cell in row] == list(features.names):
            raise PayloadError(
                "row 1 is a header (the feature names). Fix: send rows without a header, "
                f"values in this order: {', '.join(features.names)}"
            )
        if len(row) != expected:
            problems.append(f"row {number} has {len(row)} values, expected {expected}")
            continue
        rows.append([cell.strip() or None for cell in row])
        labels.append(f"row {number}")
    if problems:
        raise PayloadError(
            _listing(problems) + ". Fix: send one value per feature, in this order: "
            f"{', '.join(features.names)}"
        )
    return rows, labels


def _json_rows(text: str, features: FeatureSpec) -> tuple[list[list[Any]], list[str]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(f"the payload is not valid JSON: {error}") from None
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list):
        keys = f" with keys {sorted(document)}" if isinstance(document, dict) else ""
        raise PayloadError(
            'expected {"instances": [{feature: value, ...}, ...]} or a list of such records, '
            f"got a JSON {type(document).__name__}{keys}"
        )
    rows: list[list[Any]] = []
    problems: list[str] = []
    for index, record in enumerate(instances):
        found = _record_problems(record, _json_label(index), features)
        if found:
            problems.extend(found)
        else:
            rows.append([record[name] for name in features.names])
    if problems:
        raise PayloadError(
            _listing(problems) + ". Fix: send objects with exactly these features: "
            f"{', '.join(features.names)}"
        )
    return rows, [_json_label(index) for index in range(len(rows))]


def _json_label(index: int) -> str:
    return f"instances[{index}]"


def _record_problems(record: Any, where: str, features: FeatureSpec) -> list[str]:
    if not isinstance(record, dict):
        return [f"{where} is a JSON {type(record).__name__}, not an object"]
    problems: list[str] = []
    missing = [name for name in features.names if name not in record]
    unknown = sorted(set(record) - set(features.names))
    if missing:
        problems.append(f"{where} lacks {missing}")
    if unknown:
        problems.append(f"{where} has unknown features {unknown}")
    for name in features.names:
        kind = features.kind(name)
        if name in record and not _scalar(record[name], kind):
            expected = "number" if kind is FeatureKind.NUMERIC else "string, number or null"
            problems.append(f"{where}.{name}: {json.dumps(record[name])} is not a {expected}")
    return problems


def _scalar(value: Any, kind: FeatureKind) -> bool:
    if value is None:
        return True
    if kind is FeatureKind.NUMERIC:
        # JSON true/false silently becoming 1.0/0.0 would hide a client's mistake.
        return isinstance(value, int | float | str) and not isinstance(value, bool)
    return isinstance(value, str | int | float | bool)


def _schema(features: FeatureSpec) -> Any:
    """Numeric features coerced to float (finite or missing), the others to strings."""
    import pandera.pandas as pa

    finite = pa.Check(lambda s: ~np.isinf(s), ignore_na=True, name="finite")
    columns = {
        name: (
            pa.Column(float, finite, coerce=True, nullable=True)
            if features.kind(name) is FeatureKind.NUMERIC
            else pa.Column(str, coerce=True, nullable=True)
        )
        for name in features.names
    }
    return pa.DataFrameSchema(columns, strict=True, ordered=True)


def _listing(problems: Sequence[str]) -> str:
    shown = "; ".join(problems[:_MAX_REPORTED])
    more = len(problems) - _MAX_REPORTED
    return shown + (f" (and {more} more)" if more > 0 else "")
