"""Request bodies to typed frames, and content negotiation, without a server."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ml.drift import FeatureKind
from ml.serve.model import FeatureSpec
from ml.serve.payload import (
    PayloadError,
    RequestParser,
    render,
    request_format,
    response_format,
)

SPEC = FeatureSpec(
    ("age", "income", "plan"),
    {"age": FeatureKind.NUMERIC, "income": FeatureKind.NUMERIC, "plan": FeatureKind.CATEGORICAL},
)


@pytest.fixture(scope="module")
def parser() -> RequestParser:
    return RequestParser(SPEC)


def test_csv_rows_become_typed_columns_in_feature_order(parser: RequestParser) -> None:
    frame = parser.parse(b"25,31000,basic\n61,72000.5,team\n", "csv")

    assert list(frame.columns) == ["age", "income", "plan"]
    assert frame["income"].tolist() == [31000.0, 72000.5]
    assert frame["plan"].tolist() == ["basic", "team"]


def test_an_empty_csv_cell_is_a_missing_value(parser: RequestParser) -> None:
    frame = parser.parse(b"25,,basic\n", "csv")

    assert math.isnan(frame["income"].iloc[0])


def test_a_csv_row_with_the_wrong_number_of_values_is_named(parser: RequestParser) -> None:
    with pytest.raises(PayloadError) as caught:
        parser.parse(b"25,31000,basic\n61,72000\n", "csv")

    assert caught.value.status == 400
    assert "row 2 has 2 values, expected 3" in str(caught.value)
    assert "age, income, plan" in str(caught.value)


def test_a_non_numeric_csv_value_is_named_by_row_and_feature(parser: RequestParser) -> None:
    with pytest.raises(PayloadError) as caught:
        parser.parse(b"25,31000,basic\n\n61,lots,team\n", "csv")

    assert "row 3, feature 'income': 'lots' is not a finite number" in str(caught.value)


def test_an_infinite_value_is_refused(parser: RequestParser) -> None:
    with pytest.raises(PayloadError, match="row 1, feature 'age': .*inf"):
        parser.parse(b"inf,31000,basic\n", "csv")


def test_a_header_row_is_refused_with_the_fix(parser: RequestParser) -> None:
    with pytest.raises(PayloadError, match="row 1 is a header.*without a header"):
        parser.parse(b"age,income,plan\n25,31000,basic\n", "csv")


def test_json_instances_and_a_list_of_records_parse_alike(parser: RequestParser) -> None:
    records = [
        {"plan": "basic", "age": 25, "income": "31000"},
        {"age": 61, "income": 72000, "plan": "team"},
    ]

    wrapped = parser.parse(json.dumps({"instances": records}).encode(), "json")
    bare = parser.parse(json.dumps(records).encode(), "json")

    assert wrapped.equals(bare)
    assert wrapped["age"].tolist() == [25.0, 61.0]


def test_json_records_missing_or_adding_features_are_named(parser: RequestParser) -> None:
    body = json.dumps(
        {
            "instances": [
                {"age": 25, "plan": "basic"},
                {"age": 1, "income": 2, "plan": "x", "zip": "123"},
            ]
        }
    ).encode()

    with pytest.raises(PayloadError) as caught:
        parser.parse(body, "json")

    message = str(caught.value)
    assert "instances[0] lacks ['income']" in message
    assert "instances[1] has unknown features ['zip']" in message


def test_json_true_is_not_a_number(parser: RequestParser) -> None:
    body = json.dumps([{"age": True, "income": 1, "plan": "basic"}]).encode()

    with pytest.raises(PayloadError, match=r"instances\[0\]\.age: true is not a number"):
        parser.parse(body, "json")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"rows": []}', 'expected {"instances"'),
        (b'{"instances": []}', "no rows"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_json_bodies_are_explained(
    parser: RequestParser, body: bytes, message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        parser.parse(body, "json")


def test_content_types_are_negotiated() -> None:
    assert request_format("text/csv; charset=utf-8") == "csv"
    assert request_format("application/json") == "json"
    assert response_format(None, "csv") == "csv"
    assert response_format("*/*", "json") == "json"
    assert response_format("application/json", "csv") == "json"
    assert response_format("text/html, text/csv;q=0.9", "json") == "csv"


def test_unsupported_types_get_415_and_406() -> None:
    with pytest.raises(PayloadError) as unsupported:
        request_format("application/x-npy")
    with pytest.raises(PayloadError) as unacceptable:
        response_format("text/html", "csv")

    assert unsupported.value.status == 415
    assert unacceptable.value.status == 406


def test_predictions_render_as_csv_lines_or_a_json_list() -> None:
    values = np.array([0.25, 1 / 3])

    assert render(values, "csv").decode().splitlines() == ["0.25", repr(1 / 3)]
    assert json.loads(render(values, "json")) == {"predictions": [0.25, 1 / 3]}
