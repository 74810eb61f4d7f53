"""Decode one captured payload into rows: CSV or JSON text, or either one base64-encoded.

SageMaker records a payload as text when its content type is listed in the endpoint's
`CaptureContentTypeHeader` (`encoding` CSV or JSON) and base64 otherwise (`encoding`
BASE64, the content type in `observedContentType`). One request may carry a batch:

- CSV input: one line per row, values in the baseline's feature order (no header).
- JSON input: `{"instances": [...]}` (or `"inputs"`), a bare list, or one object; each
  instance is a list in feature order, an object keyed by feature name, or
  `{"features": [...]}` (SageMaker's built-in algorithms' shape).
- JSON Lines (`application/jsonlines`): one instance per line.
- Output: one prediction per input row, in the same order: CSV lines (or one line of
  comma-separated values), `{"predictions": [...]}`, a bare list or a scalar; a prediction
  may be an object, read at the key named like the baseline's prediction column.

Anything else raises `PayloadError`, whose message becomes the skipped line's reason.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

Format = Literal["csv", "json", "jsonlines"]
Row = tuple[Any, ...]

ENCODINGS: Final = ("CSV", "JSON", "BASE64")
_INSTANCE_KEYS: Final = ("instances", "inputs")
_PREDICTION_KEYS: Final = ("predictions", "outputs")
_CSV_TYPES: Final = frozenset({"text/csv", "application/csv"})
_JSONLINES_TYPES: Final = frozenset(
    {"application/jsonlines", "application/x-jsonlines", "application/jsonl"}
)


class PayloadError(ValueError):
    """A payload that cannot be turned into rows; the message says why."""


def media_format(content_type: str) -> Format:
    """The payload format a content type announces (parameters such as charset ignored)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _CSV_TYPES:
        return "csv"
    if media in _JSONLINES_TYPES:
        return "jsonlines"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    raise PayloadError(
        f"content type {content_type!r} is neither CSV nor JSON; only those can be monitored"
    )


def decode(data: str, encoding: str, content_type: str) -> tuple[str, Format]:
    """The payload's text and format."""
    if encoding == "CSV":
        return data, "csv"
    if encoding == "JSON":
        # JSON Lines payloads are also recorded with encoding JSON; the type tells them apart.
        return data, "jsonlines" if _is_jsonlines(content_type) else "json"
    if encoding == "BASE64":
        fmt = media_format(content_type)
        try:
            return base64.b64decode(data, validate=True).decode("utf-8"), fmt
        except (binascii.Error, ValueError) as exc:
            raise PayloadError(f"BASE64 data does not decode to UTF-8 text: {exc}") from None
    raise PayloadError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")


def input_rows(text: str, fmt: Format, features: Sequence[str]) -> list[Row]:
    """The request's rows, each aligned with `features`; a missing value is None."""
    if fmt == "csv":
        rows = [_csv_row(fields, features) for fields in _csv_lines(text)]
    else:
        rows = [_instance_row(instance, features) for instance in _instances(text, fmt, features)]
    if not rows:
        raise PayloadError("the input payload holds no row")
    return rows


def output_values(text: str, fmt: Format, prediction: str, expected: int) -> list[Any]:
    """One prediction per input row (`expected` of them), in input order."""
    if fmt == "csv":
        values = _csv_predictions(text, expected)
    else:
        values = [_prediction(item, prediction) for item in _predictions(text, fmt)]
    if len(values) != expected:
        raise PayloadError(
            f"the output holds {len(values)} prediction(s) for {expected} input row(s)"
        )
    return values


# ---------------------------------------------------------------------------------- CSV


def _csv_lines(text: str) -> list[list[str]]:
    try:
        return [fields for fields in csv.reader(io.StringIO(text)) if fields]
    except csv.Error as exc:
        raise PayloadError(f"CSV payload is malformed: {exc}") from None


def _csv_row(fields: Sequence[str], features: Sequence[str]) -> Row:
    if len(fields) != len(features):
        raise PayloadError(
            f"a CSV row has {len(fields)} value(s); the baseline has {len(features)} "
            f"feature(s): {', '.join(features)}"
        )
    return tuple(_blank_to_none(value) for value in fields)


def _csv_predictions(text: str, expected: int) -> list[Any]:
    lines = _csv_lines(text)
    # Some containers answer a batch with one comma-separated line rather than one per row.
    if len(lines) == 1 and expected > 1 and len(lines[0]) == expected:
        return [_blank_to_none(value) for value in lines[0]]
    for number, fields in enumerate(lines, start=1):
        if len(fields) != 1:
            raise PayloadError(
                f"output line {number} has {len(fields)} values; expected one prediction per row"
            )
    return [_blank_to_none(fields[0]) for fields in lines]


def _blank_to_none(value: str) -> str | None:
    stripped = value.strip()
    return stripped or None


# ---------------------------------------------------------------------------------- JSON


def _is_jsonlines(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in _JSONLINES_TYPES


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"JSON payload is malformed: {exc}") from None


def _load_lines(text: str) -> list[Any]:
    return [_load(line) for line in text.splitlines() if line.strip()]


def _instances(text: str, fmt: Format, features: Sequence[str]) -> list[Any]:
    if fmt == "jsonlines":
        return _load_lines(text)
    body = _load(text)
    if isinstance(body, Mapping):
        for key in _INSTANCE_KEYS:
            if key in body:
                body = body[key]
                break
        else:
            return [body]  # one named row
    if not isinstance(body, list):
        return [body]
    # A flat list of scalars is one row, unless the model has a single feature.
    if body and all(_is_scalar(item) for item in body) and len(features) > 1:
        return [body]
    return body


def _instance_row(instance: Any, features: Sequence[str]) -> Row:
    if isinstance(instance, Mapping) and set(instance) == {"features"}:
        instance = instance["features"]
    if isinstance(instance, Mapping):
        if not any(name in instance for name in features):
            raise PayloadError(
                f"a JSON instance names none of the baseline's features "
                f"({', '.join(features)}); it has {', '.join(map(str, instance)) or 'no keys'}"
            )
        return tuple(instance.get(name) for name in features)
    if _is_scalar(instance):
        instance = [instance]
    if not isinstance(instance, list):
        raise PayloadError(f"a JSON instance is a {type(instance).__name__}, not a list or object")
    if len(instance) != len(features):
        raise PayloadError(
            f"a JSON instance has {len(instance)} value(s); the baseline has {len(features)} "
            f"feature(s): {', '.join(features)}"
        )
    return tuple(instance)


def _predictions(text: str, fmt: Format) -> list[Any]:
    if fmt == "jsonlines":
        return _load_lines(text)
    body = _load(text)
    if isinstance(body, Mapping):
        for key in _PREDICTION_KEYS:
            if key in body:
                body = body[key]
                break
        else:
            return [body]
    return body if isinstance(body, list) else [body]


def _prediction(item: Any, prediction: str) -> Any:
    if isinstance(item, Mapping):
        if prediction in item:
            item = item[prediction]
        elif len(item) == 1:
            item = next(iter(item.values()))
        else:
            raise PayloadError(
                f"a prediction object has keys {', '.join(map(str, item))}: none is the "
                f"baseline's prediction column {prediction!r}"
            )
    if isinstance(item, list) and len(item) == 1:
        item = item[0]
    if not _is_scalar(item):
        raise PayloadError(f"a prediction is a {type(item).__name__}; expected one value per row")
    return item


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
