"""Schema files: the shipped reference schema, the hash of a schema's meaning, and errors
that name the file and the field for every kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml.data import CHURN_SCHEMA, DatasetSchema, SchemaFileError, load_schema
from ml.data.reference import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES

FIXTURES = Path(__file__).parent / "fixtures" / "data"

MINIMAL = {"columns": {"age": {"type": "int", "min": 0}, "plan": {"type": "string"}}}


def write(tmp_path: Path, document: object, name: str = "schema.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def test_reference_schema_declares_features_label_and_id() -> None:
    schema = load_schema(CHURN_SCHEMA)
    assert schema.dataset == "churn"
    assert schema.label == LABEL
    assert schema.columns["customer_id"].role == "id" and schema.columns["customer_id"].unique
    kinds = schema.feature_kinds()
    assert set(kinds) == set(NUMERIC_FEATURES) | set(CATEGORICAL_FEATURES)
    assert {kinds[name] for name in NUMERIC_FEATURES} == {"numeric"}
    assert {kinds[name] for name in CATEGORICAL_FEATURES} == {"categorical"}
    assert schema.strict is True and schema.rows.min == 100


def test_defaults_are_strict_and_not_nullable(tmp_path: Path) -> None:
    schema = load_schema(write(tmp_path, MINIMAL))
    assert schema.strict is True
    assert schema.rows.min == 1 and schema.rows.max is None
    assert not schema.columns["age"].nullable and not schema.columns["age"].unique


def test_hash_follows_meaning_not_formatting(tmp_path: Path) -> None:
    as_yaml = write(
        tmp_path, "# a comment\ncolumns:\n  age: {type: int, min: 0}\n  plan:\n    type: string\n"
    )
    as_json = write(tmp_path, json.dumps(MINIMAL), "schema.json")
    assert load_schema(as_yaml).sha256 == load_schema(as_json).sha256
    changed = {"columns": {**MINIMAL["columns"], "age": {"type": "int", "min": 1}}}
    assert load_schema(write(tmp_path, changed, "other.yaml")).sha256 != load_schema(as_json).sha256


def test_schema_round_trips_through_its_dict() -> None:
    schema = load_schema(FIXTURES / "customers.yaml")
    again = DatasetSchema.model_validate(json.loads(json.dumps(schema.to_dict())))
    assert again == schema and again.sha256 == schema.sha256


BAD_SCHEMAS = [
    pytest.param(
        {"columns": {"age": {"type": "integer"}}}, "columns.age.type", "'int'", id="unknown-type"
    ),
    pytest.param(
        {"columns": {"age": {"type": "int", "min": 5, "max": 1}}},
        "columns.age",
        "min (5) is greater than max (1)",
        id="min-over-max",
    ),
    pytest.param(
        {"columns": {"age": {"type": "int", "minimum": 0}}},
        "columns.age.minimum",
        "unknown field (allowed here: type, description, role",
        id="unknown-field",
    ),
    pytest.param(
        {"columns": {"plan": {"type": "category"}}},
        "columns.plan",
        "must list its values in `allowed`",
        id="category-without-allowed",
    ),
    pytest.param(
        {"columns": {"ok": {"type": "category", "allowed": [True, False]}}},
        "columns.ok",
        "quote it: YAML reads yes/no/on/off as booleans",
        id="yaml-booleans-as-categories",
    ),
    pytest.param(
        {"columns": {"name": {"type": "string", "min": 0}}},
        "columns.name",
        "min/max apply to int and float columns",
        id="range-on-string",
    ),
    pytest.param(
        {"unique": ["id"], "columns": {"age": {"type": "int"}}},
        None,
        "unique names undeclared column(s) ['id']",
        id="unique-undeclared",
    ),
    pytest.param({"columns": {}}, "columns", "at least 1 item", id="no-columns"),
    pytest.param(
        {"rows": {"min": -1}, "columns": {"a": {"type": "int"}}},
        "rows.min",
        "greater than or equal to 0",
        id="negative-rows",
    ),
    pytest.param(
        {"columns": {"a": {"type": "int", "role": "label"}, "b": {"type": "int", "role": "label"}}},
        None,
        "at most one column may have role: label",
        id="two-labels",
    ),
    pytest.param(
        {"dataset": "Churn Data", "columns": {"a": {"type": "int"}}},
        None,
        "is not a valid name",
        id="bad-dataset-name",
    ),
    pytest.param(
        {"columns": {"a": {"type": "int", "nullable": "sometimes"}}},
        "columns.a.nullable",
        "valid boolean",
        id="non-boolean-flag",
    ),
]


@pytest.mark.parametrize(("document", "field", "problem"), BAD_SCHEMAS)
def test_bad_schema_names_file_and_field(
    tmp_path: Path, document: object, field: str | None, problem: str
) -> None:
    path = write(tmp_path, document)
    with pytest.raises(SchemaFileError) as caught:
        load_schema(path)
    error = caught.value
    assert error.source == str(path) and error.field == field
    assert problem in str(error)
    assert str(path) in str(error) and "Fix:" in str(error)


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("columns:\n  age: {type: int\n", "line 3, column 1", "not valid YAML or JSON"),
        ("- just\n- a list\n", None, "expected a mapping with a `columns` key, got list"),
        ("", None, "expected a mapping with a `columns` key, got NoneType"),
    ],
    ids=["unparseable", "not-a-mapping", "empty"],
)
def test_unreadable_schema_file(tmp_path: Path, text: str, field: str | None, problem: str) -> None:
    with pytest.raises(SchemaFileError) as caught:
        load_schema(write(tmp_path, text))
    assert caught.value.field == field
    assert problem in str(caught.value)


def test_missing_schema_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaFileError, match="does not exist"):
        load_schema(tmp_path / "nope.yaml")
