"""A `DatasetSchema` as a pandera ``DataFrameSchema``, and pandera's failures as `Issue`s.

pandera does every data check (types by coercion, nullability, ranges, allowed values,
uniqueness, strictness, row counts). It reports failures as a frame of (column, check,
check_number, failure_case, index) rows; built-in checks are named by pandera, so each
column's own checks are identified by their position (``check_number``) in the list built
here, which is kept beside the schema as `CheckMeaning`s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd
import pandera.pandas as pa

from ml.data.report import MAX_SAMPLES, Issue, IssueKind, Sample
from ml.data.schema import ColumnSpec, DatasetSchema

# Validation dtypes: nullable ones for int and bool, so that a missing value is reported
# as a null rather than as a value of the wrong type.
PANDERA_DTYPES: Final[dict[str, Any]] = {
    "int": "Int64",
    "float": "float64",
    "string": str,
    "bool": "boolean",
    "category": str,
    "datetime": "datetime64[ns]",
}
_BOOL_TEXT: Final = {"true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True)
class CheckMeaning:
    """What one of our checks means, to word its failures."""

    kind: IssueKind
    name: str
    describe: str


@dataclass(frozen=True)
class CompiledSchema:
    """The pandera schema with the meaning of each check it holds, by position."""

    schema: DatasetSchema
    pandera: pa.DataFrameSchema
    column_checks: dict[str, tuple[CheckMeaning, ...]]
    frame_checks: tuple[CheckMeaning, ...]


def compile_schema(schema: DatasetSchema) -> CompiledSchema:
    """The pandera schema for `schema`: every column coerced to its type and checked."""
    columns: dict[str, pa.Column] = {}
    meanings: dict[str, tuple[CheckMeaning, ...]] = {}
    for name, spec in schema.columns.items():
        checks, meanings[name] = _column_checks(spec)
        columns[name] = pa.Column(
            PANDERA_DTYPES[spec.type],
            checks=checks,
            parsers=_bool_parser() if spec.type == "bool" else None,
            nullable=spec.nullable,
            unique=spec.unique,
            coerce=True,  # CSV text becomes the declared type; failures name the values
            required=True,
        )
    bounds = schema.rows
    frame_check = pa.Check(
        lambda frame: bounds.min <= len(frame) and (bounds.max is None or len(frame) <= bounds.max),
        name="row_count",
    )
    between = f"at least {bounds.min}" + (f" and at most {bounds.max}" if bounds.max else "")
    pandera_schema = pa.DataFrameSchema(
        columns,
        checks=[frame_check],
        strict=schema.strict,
        unique=list(schema.unique) or None,
        name=schema.dataset,
    )
    return CompiledSchema(
        schema=schema,
        pandera=pandera_schema,
        column_checks=meanings,
        frame_checks=(CheckMeaning(IssueKind.ROW_COUNT, "rows", between),),
    )


def _column_checks(spec: ColumnSpec) -> tuple[list[pa.Check], tuple[CheckMeaning, ...]]:
    checks: list[pa.Check] = []
    meanings: list[CheckMeaning] = []
    if spec.min is not None:
        checks.append(pa.Check.ge(spec.min))
        meanings.append(
            CheckMeaning(IssueKind.OUT_OF_RANGE, "min", f"below the minimum {spec.min:g}")
        )
    if spec.max is not None:
        checks.append(pa.Check.le(spec.max))
        meanings.append(
            CheckMeaning(IssueKind.OUT_OF_RANGE, "max", f"above the maximum {spec.max:g}")
        )
    if spec.allowed is not None:
        checks.append(pa.Check.isin(spec.allowed))
        listed = ", ".join(str(value) for value in spec.allowed)
        meanings.append(
            CheckMeaning(
                IssueKind.UNKNOWN_CATEGORY, "allowed", f"not among the allowed values {listed}"
            )
        )
    return checks, tuple(meanings)


def _bool_parser() -> pa.Parser:
    """CSV booleans arrive as text when a column also holds a null or a bad value; pandas
    cannot cast "true" to boolean, so map the usual spellings first (others stay, and fail
    coercion as the wrong type)."""

    def parse(series: pd.Series) -> pd.Series:
        if series.dtype == bool:
            return series
        return series.map(
            lambda value: (
                _BOOL_TEXT.get(value.strip().lower(), value) if isinstance(value, str) else value
            )
        ).astype(object)

    return pa.Parser(parse)


# --- failures -> issues ------------------------------------------------------------------

_Record = dict[str, Any]
_Key = tuple[str | None, str, int | None]  # (column, check, check_number)


def issues_from_failures(
    compiled: CompiledSchema, failures: pd.DataFrame, rows: int
) -> list[Issue]:
    """One `Issue` per failing column and check, from pandera's failure cases."""
    groups: dict[_Key, list[_Record]] = {}
    for record in failures.to_dict("records"):
        check = str(record["check"])
        column = _text(record["column"])
        number = _number(record["check_number"])
        if check.startswith(("coerce_dtype(", "dtype(")):
            check, number = "dtype", None  # pandera reports a cast failure twice
        if check == "multiple_fields_uniqueness":
            column = None  # one issue for the combination, not one per column
        elif record["schema_context"] == "DataFrameSchema" and number is not None:
            column = None  # a frame-level check; pandera puts the schema's name here
        groups.setdefault((column, check, number), []).append(record)
    wrong_type = {column for column, check, _ in groups if check == "dtype"}
    issues: list[Issue] = []
    for (column, check, number), records in groups.items():
        if column in wrong_type and number is not None:
            continue  # range/allowed checks cannot run on values that are not yet typed
        issues.extend(_translate(compiled, (column, check, number), records, rows))
    return issues


def _translate(
    compiled: CompiledSchema, key: _Key, records: list[_Record], rows: int
) -> list[Issue]:
    column, check, number = key
    if check == "column_in_dataframe":
        return [_missing_column(str(r["failure_case"])) for r in records]
    if check == "column_in_schema":
        return [_extra_column(str(r["failure_case"])) for r in records]
    if check == "multiple_fields_uniqueness":
        return [_duplicate_combinations(compiled.schema.unique, records)]
    if column is None:
        return [_frame_issue(compiled, check, number, records, rows)]
    return [_column_issue(compiled, key, column, records)]


def _frame_issue(
    compiled: CompiledSchema, check: str, number: int | None, records: list[_Record], rows: int
) -> Issue:
    if number is None or number >= len(compiled.frame_checks):
        return _check_error(None, check, records)
    meaning = compiled.frame_checks[number]
    message = f"the data has {rows} rows; the schema requires {meaning.describe}"
    return Issue(meaning.kind, None, meaning.name, message, rows)


def _column_issue(
    compiled: CompiledSchema, key: _Key, column: str, records: list[_Record]
) -> Issue:
    _, check, number = key
    builder = _COLUMN_BUILDERS.get(check)
    if builder is not None:
        return builder(compiled.schema.columns[column], column, records)
    meanings = compiled.column_checks.get(column, ())
    if number is None or number >= len(meanings):
        return _check_error(column, check, records)
    meaning = meanings[number]
    count, samples = _counted(records)
    message = f"{count} value(s) in column {column!r} are {meaning.describe}"
    return Issue(meaning.kind, column, meaning.name, message, count, samples)


def _missing_column(name: str) -> Issue:
    return Issue(
        IssueKind.MISSING_COLUMN,
        name,
        "column_present",
        f"column {name!r} is declared in the schema but missing from the data",
        1,
    )


def _extra_column(name: str) -> Issue:
    return Issue(
        IssueKind.EXTRA_COLUMN,
        name,
        "strict",
        f"column {name!r} is not declared in the schema, which is strict (drop the column, "
        "declare it, or set `strict: filter` to drop undeclared columns)",
        1,
    )


def _wrong_type(spec: ColumnSpec, column: str, records: list[_Record]) -> Issue:
    count, samples = _counted(records)
    if samples:
        message = f"{count} value(s) in column {column!r} cannot be read as {spec.type}"
    else:  # a typed column (Parquet) pandera rejects as a whole, e.g. floats for an int
        found = sorted({str(r["failure_case"]) for r in records} - {"nan", "None", "<NA>"})
        held = f"{', '.join(found)} values" if found else "values"
        message = f"column {column!r} holds {held} that cannot all be read as {spec.type}"
        count = 1
    return Issue(IssueKind.WRONG_TYPE, column, "type", message, count, samples)


def _nulls(spec: ColumnSpec, column: str, records: list[_Record]) -> Issue:
    count, samples = _counted(records)
    message = f"{count} missing value(s) in column {column!r}, which is not nullable"
    return Issue(IssueKind.NULLS, column, "not_null", message, count, samples)


def _duplicate_values(spec: ColumnSpec, column: str, records: list[_Record]) -> Issue:
    count, samples = _counted(records)
    message = f"{count} rows repeat a value of column {column!r}, which must be unique"
    return Issue(IssueKind.DUPLICATES, column, "unique", message, count, samples)


_COLUMN_BUILDERS: Final[dict[str, Callable[[ColumnSpec, str, list[_Record]], Issue]]] = {
    "dtype": _wrong_type,
    "not_nullable": _nulls,
    "field_uniqueness": _duplicate_values,
}


def _duplicate_combinations(columns: list[str], records: list[_Record]) -> Issue:
    by_row: dict[int, dict[str, Any]] = {}
    for record in records:
        row = _number(record["index"])
        if row is not None:
            by_row.setdefault(row, {})[str(record["column"])] = record["failure_case"]
    samples = tuple(
        Sample(row, tuple(by_row[row].get(name) for name in columns))
        for row in sorted(by_row)[:MAX_SAMPLES]
    )
    names = ", ".join(columns)
    message = f"{len(by_row)} rows repeat a combination of ({names}), which must be unique"
    return Issue(IssueKind.DUPLICATES, names, "unique", message, len(by_row), samples)


def _check_error(column: str | None, check: str, records: list[_Record]) -> Issue:
    where = f"column {column!r}" if column else "the data"
    detail = str(records[0]["failure_case"]).splitlines()[0][:200]
    message = f"check {check} on {where} could not run: {detail}"
    return Issue(IssueKind.CHECK_ERROR, column, check, message, len(records))


def _counted(records: list[_Record]) -> tuple[int, tuple[Sample, ...]]:
    """Distinct failing rows, and the first few of them with their values."""
    by_row: dict[int, Any] = {}
    for record in records:
        row = _number(record["index"])
        if row is not None:
            by_row.setdefault(row, record["failure_case"])
    samples = tuple(Sample(row, by_row[row]) for row in sorted(by_row)[:MAX_SAMPLES])
    return (len(by_row) or len(records)), samples


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _number(value: Any) -> int | None:
    if value is None or isinstance(value, str):
        return None
    try:
        return None if pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None
