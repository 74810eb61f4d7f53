"""Validate a data file (or a frame) against a `DatasetSchema`, collecting every problem.

pandera runs lazily, so one pass reports all failing columns and checks, not the first.
A file that cannot be read (empty, not UTF-8, truncated) gets a report with that one
file-level issue and no column checks.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.errors

from ml.data.checks import compile_schema, issues_from_failures
from ml.data.errors import ValidationFailed
from ml.data.formats import format_of, read_table
from ml.data.report import Issue, ValidationReport, sort_issues
from ml.data.schema import DatasetSchema


def validate_file(
    path: str | Path, schema: DatasetSchema, *, schema_name: str = ""
) -> ValidationReport:
    """The report for one CSV or Parquet file. A missing file or an unsupported extension
    raises (bad input); anything wrong with the content is in the report."""
    report, _ = _validate_file(Path(path), schema, schema_name)
    return report


def validate_frame(
    frame: pd.DataFrame, schema: DatasetSchema, *, source: str = "<frame>", schema_name: str = ""
) -> ValidationReport:
    """The report for an in-memory frame (no file-level checks)."""
    report, _ = _validate_frame(frame, schema, source, "frame", schema_name)
    return report


def read_validated(
    path: str | Path, schema: DatasetSchema, *, schema_name: str = ""
) -> pd.DataFrame:
    """The file as a frame typed by the schema; `ValidationFailed` if it does not satisfy it."""
    report, frame = _validate_file(Path(path), schema, schema_name)
    if frame is None:
        raise ValidationFailed(report)
    return frame


def _validate_file(
    path: Path, schema: DatasetSchema, schema_name: str
) -> tuple[ValidationReport, pd.DataFrame | None]:
    fmt = format_of(path).value
    read = read_table(path)
    if read.frame is None:
        return _report(
            str(path),
            fmt=fmt,
            schema=schema,
            schema_name=schema_name,
            rows=None,
            columns=(),
            issues=list(read.issues),
        ), None
    return _validate_frame(read.frame, schema, str(path), fmt, schema_name)


def _validate_frame(
    frame: pd.DataFrame, schema: DatasetSchema, source: str, fmt: str, schema_name: str
) -> tuple[ValidationReport, pd.DataFrame | None]:
    compiled = compile_schema(schema)
    columns = tuple(str(name) for name in frame.columns)
    try:
        validated = compiled.pandera.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        issues = issues_from_failures(compiled, errors.failure_cases, len(frame))
        return _report(
            source,
            fmt=fmt,
            schema=schema,
            schema_name=schema_name,
            rows=len(frame),
            columns=columns,
            issues=issues,
        ), None
    report = _report(
        source,
        fmt=fmt,
        schema=schema,
        schema_name=schema_name,
        rows=len(frame),
        columns=columns,
        issues=[],
    )
    return report, _final_dtypes(validated, schema)


def _final_dtypes(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """Plain numpy dtypes where the schema rules out nulls: what training code expects."""
    plain = {"int": "int64", "bool": "bool"}
    casts = {
        name: plain[spec.type]
        for name, spec in schema.columns.items()
        if spec.type in plain and not spec.nullable and name in frame.columns
    }
    return frame.astype(casts) if casts else frame


def _report(
    source: str,
    *,
    fmt: str,
    schema: DatasetSchema,
    schema_name: str,
    rows: int | None,
    columns: tuple[str, ...],
    issues: list[Issue],
) -> ValidationReport:
    return ValidationReport(
        source=source,
        format=fmt,
        schema=schema_name or schema.dataset or "schema",
        schema_sha256=schema.sha256,
        rows=rows,
        columns=columns,
        issues=sort_issues(issues, list(schema.columns)),
    )
