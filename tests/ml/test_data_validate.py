"""Validation of CSV and Parquet files: every kind of bad data gets its own issue with the
failing column, check, count and sample rows; good data comes back typed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ml.data import (
    DataFileNotFound,
    IssueKind,
    UnsupportedFormat,
    ValidationFailed,
    ValidationReport,
    load_schema,
    read_validated,
    schema_from_dict,
    validate_file,
    validate_frame,
)

FIXTURES = Path(__file__).parent / "fixtures" / "data"
SCHEMA = load_schema(FIXTURES / "customers.yaml")
GOOD_CSV = (FIXTURES / "customers.csv").read_text()
HEADER, *ROWS = GOOD_CSV.splitlines()


def csv_file(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def with_rows(*rows: str, header: str = HEADER) -> str:
    """The fixture's first three rows, then `rows`."""
    return "\n".join([header, *ROWS[:3], *rows]) + "\n"


def only_issue(report: ValidationReport) -> object:
    assert not report.ok
    assert len(report.issues) == 1, [issue.message for issue in report.issues]
    return report.issues[0]


def test_good_csv_is_valid_and_reads_typed() -> None:
    report = validate_file(FIXTURES / "customers.csv", SCHEMA)
    assert report.ok and report.issues == ()
    assert report.rows == 6 and report.columns == tuple(SCHEMA.columns)
    assert report.schema_sha256 == SCHEMA.sha256
    frame = read_validated(FIXTURES / "customers.csv", SCHEMA)
    assert frame["age"].dtype == "int64" and frame["churned"].dtype == "int64"
    assert frame["active"].dtype == bool and frame["balance"].dtype == "float64"
    assert str(frame["joined"].dtype).startswith("datetime64")
    assert frame["balance"].isna().sum() == 1  # nullable: the empty cell is a null
    assert frame["customer_id"].tolist()[:2] == ["c-001", "c-002"]


def test_good_parquet_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    read_validated(FIXTURES / "customers.csv", SCHEMA).to_parquet(path)
    report = validate_file(path, SCHEMA)
    assert report.ok and report.format == "parquet" and report.rows == 6


def test_csv_text_is_not_reinterpreted(tmp_path: Path) -> None:
    schema = schema_from_dict({"columns": {"zip": {"type": "string"}}})
    frame = read_validated(csv_file(tmp_path, "zip\n00501\n02134\n"), schema)
    assert frame["zip"].tolist() == ["00501", "02134"]


def test_empty_file(tmp_path: Path) -> None:
    issue = only_issue(validate_file(csv_file(tmp_path, ""), SCHEMA))
    assert issue.kind is IssueKind.EMPTY_FILE and "the file is empty" in issue.message


def test_header_only_fails_the_row_count(tmp_path: Path) -> None:
    issue = only_issue(validate_file(csv_file(tmp_path, HEADER + "\n"), SCHEMA))
    assert issue.kind is IssueKind.ROW_COUNT
    assert issue.message == "the data has 0 rows; the schema requires at least 3 and at most 1000"


def test_missing_column(tmp_path: Path) -> None:
    frame = pd.read_csv(FIXTURES / "customers.csv", dtype=str).drop(columns=["plan"])
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    issue = only_issue(validate_file(path, SCHEMA))
    assert issue.kind is IssueKind.MISSING_COLUMN and issue.column == "plan"
    assert "column 'plan' is declared in the schema but missing from the data" in issue.message


def test_extra_column_under_strict_and_filter(tmp_path: Path) -> None:
    text = "\n".join([HEADER + ",notes", *(row + ",x" for row in ROWS)]) + "\n"
    path = csv_file(tmp_path, text)
    issue = only_issue(validate_file(path, SCHEMA))
    assert issue.kind is IssueKind.EXTRA_COLUMN and issue.column == "notes"
    assert "not declared in the schema, which is strict" in issue.message
    filtering = SCHEMA.model_copy(update={"strict": "filter"})
    assert "notes" not in read_validated(path, filtering).columns


def test_truncated_csv_last_row(tmp_path: Path) -> None:
    text = with_rows("c-004,45,980.25,prem")[:-1]  # cut mid-row: no final newline
    issue = only_issue(validate_file(csv_file(tmp_path, text), SCHEMA))
    assert issue.kind is IssueKind.TRUNCATED_FILE
    assert "last row (line 5) has 4 of 7 fields and no line end" in issue.message


def test_truncated_csv_open_quote(tmp_path: Path) -> None:
    text = with_rows('c-004,45,"980.25,premium,true,2021-07-07,0')
    issue = only_issue(validate_file(csv_file(tmp_path, text), SCHEMA))
    assert issue.kind is IssueKind.TRUNCATED_FILE and "never closed" in issue.message


def test_ragged_rows_inside_the_file(tmp_path: Path) -> None:
    text = with_rows("c-004,45,1.0,basic,true,2021-07-07,0,surplus", "c-005,45", ROWS[4])
    issue = only_issue(validate_file(csv_file(tmp_path, text), SCHEMA))
    assert issue.kind is IssueKind.MALFORMED_ROWS and issue.count == 2
    assert "2 row(s) do not have the header's 7 fields (first at line 5)" in issue.message
    assert [str(sample) for sample in issue.samples] == [
        "'line 5: 8 fields'",
        "'line 6: 2 fields'",
    ]


def test_duplicate_header(tmp_path: Path) -> None:
    issue = only_issue(validate_file(csv_file(tmp_path, "age,age\n1,2\n"), SCHEMA))
    assert issue.kind is IssueKind.DUPLICATE_HEADER and "['age'] more than once" in issue.message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(
        with_rows("c-004,45,1.0,basic,true,2021-07-07,0")
        .encode("utf-8")
        .replace(b"basic", "b\u00e9sic".encode("latin-1"), 1)
    )
    issue = only_issue(validate_file(path, SCHEMA))
    assert issue.kind is IssueKind.ENCODING
    assert "the file is not UTF-8: byte 0xE9" in issue.message and "(line 2)" in issue.message


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_CSV.encode())
    assert validate_file(path, SCHEMA).ok


def test_corrupt_parquet(tmp_path: Path) -> None:
    whole = tmp_path / "whole.parquet"
    read_validated(FIXTURES / "customers.csv", SCHEMA).to_parquet(whole)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole.read_bytes()[:200])
    issue = only_issue(validate_file(cut, SCHEMA))
    assert issue.kind is IssueKind.TRUNCATED_FILE
    assert "not a readable Parquet file, it is truncated or corrupt" in issue.message


def test_wrong_types_name_the_values(tmp_path: Path) -> None:
    text = with_rows("c-004,forty,1.0,basic,maybe,2021-13-07,0")
    report = validate_file(csv_file(tmp_path, text), SCHEMA)
    assert report.kinds == {IssueKind.WRONG_TYPE}
    by_column = {issue.column: issue for issue in report.issues}
    assert set(by_column) == {"age", "active", "joined"}
    assert by_column["age"].message == "1 value(s) in column 'age' cannot be read as int"
    assert [(s.row, s.value) for s in by_column["age"].samples] == [(3, "forty")]
    assert [(s.row, s.value) for s in by_column["active"].samples] == [(3, "maybe")]


def test_wrong_type_in_parquet(tmp_path: Path) -> None:
    frame = read_validated(FIXTURES / "customers.csv", SCHEMA)
    frame["age"] = frame["age"] + 0.5
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    issue = only_issue(validate_file(path, SCHEMA))
    assert issue.kind is IssueKind.WRONG_TYPE and issue.column == "age"
    assert "holds float64 values that cannot all be read as int" in issue.message


def test_nulls_in_non_nullable_columns(tmp_path: Path) -> None:
    report = validate_file(csv_file(tmp_path, with_rows("c-004,,1.0,,true,2021-07-07,0")), SCHEMA)
    assert report.kinds == {IssueKind.NULLS}
    assert [issue.column for issue in report.issues] == ["age", "plan"]
    assert report.issues[0].message == "1 missing value(s) in column 'age', which is not nullable"
    assert report.issues[0].samples[0].row == 3


def test_out_of_range_names_the_bound(tmp_path: Path) -> None:
    text = with_rows("c-004,12,-5,basic,true,2021-07-07,0", "c-005,300,5,basic,true,2021-07-07,0")
    report = validate_file(csv_file(tmp_path, text), SCHEMA)
    assert report.kinds == {IssueKind.OUT_OF_RANGE}
    messages = [issue.message for issue in report.issues]
    assert messages == [
        "1 value(s) in column 'age' are below the minimum 18",
        "1 value(s) in column 'age' are above the maximum 120",
        "1 value(s) in column 'balance' are below the minimum 0",
    ]
    assert [s.row for s in report.issues[1].samples] == [4]


def test_unknown_category(tmp_path: Path) -> None:
    text = with_rows("c-004,44,5,gold,true,2021-07-07,2", "c-005,44,5,gold,true,2021-07-07,0")
    report = validate_file(csv_file(tmp_path, text), SCHEMA)
    plan, churned = report.issues
    assert (plan.kind, plan.column, plan.count) == (IssueKind.UNKNOWN_CATEGORY, "plan", 2)
    assert "not among the allowed values basic, premium" in plan.message
    assert [(s.row, s.value) for s in plan.samples] == [(3, "gold"), (4, "gold")]
    assert (churned.column, churned.samples[0].value) == ("churned", 2)


def test_duplicates_in_a_unique_column(tmp_path: Path) -> None:
    text = with_rows("c-001,44,5,basic,true,2021-07-07,0")
    issue = only_issue(validate_file(csv_file(tmp_path, text), SCHEMA))
    assert issue.kind is IssueKind.DUPLICATES and issue.column == "customer_id"
    assert issue.message == "2 rows repeat a value of column 'customer_id', which must be unique"
    assert [(s.row, s.value) for s in issue.samples] == [(0, "c-001"), (3, "c-001")]


def test_duplicates_of_a_column_combination() -> None:
    schema = schema_from_dict(
        {
            "unique": ["day", "store"],
            "columns": {"day": {"type": "int"}, "store": {"type": "string"}},
        }
    )
    frame = pd.DataFrame({"day": [1, 1, 2, 1], "store": ["a", "b", "a", "a"]})
    issue = only_issue(validate_frame(frame, schema))
    assert issue.kind is IssueKind.DUPLICATES and issue.column == "day, store"
    assert issue.count == 2 and [s.row for s in issue.samples] == [0, 3]
    assert issue.samples[0].value == (1, "a")


def test_too_many_rows() -> None:
    schema = schema_from_dict({"rows": {"max": 2}, "columns": {"a": {"type": "int"}}})
    issue = only_issue(validate_frame(pd.DataFrame({"a": [1, 2, 3]}), schema))
    assert issue.kind is IssueKind.ROW_COUNT and "has 3 rows" in issue.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = with_rows("c-001,12,1.0,gold,true,2021-07-07,0", "c-005,,1.0,basic,true,2021-07-07,0")
    report = validate_file(csv_file(tmp_path, text), SCHEMA)
    assert report.kinds == {
        IssueKind.DUPLICATES,
        IssueKind.OUT_OF_RANGE,
        IssueKind.UNKNOWN_CATEGORY,
        IssueKind.NULLS,
    }
    assert report.summary().startswith(f"{tmp_path / 'data.csv'} does not satisfy")


def test_report_is_plain_json(tmp_path: Path) -> None:
    text = with_rows("c-004,12,-5,gold,true,2021-07-07,0")
    document = json.loads(json.dumps(validate_file(csv_file(tmp_path, text), SCHEMA).to_dict()))
    assert document["ok"] is False and document["rows"] == 4
    first = document["issues"][0]
    assert set(first) == {"kind", "column", "check", "message", "count", "samples"}
    assert first["samples"] == [{"row": 3, "value": 12}]


def test_read_validated_raises_with_the_report(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        read_validated(csv_file(tmp_path, ""), SCHEMA)
    assert caught.value.report.kinds == {IssueKind.EMPTY_FILE}


def test_missing_file_and_unknown_format_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFound, match="does not exist"):
        validate_file(tmp_path / "absent.csv", SCHEMA)
    with pytest.raises(UnsupportedFormat, match=r"'\.xlsx'.*\.csv, \.parquet"):
        validate_file(csv_file(tmp_path, GOOD_CSV, "data.xlsx"), SCHEMA)
