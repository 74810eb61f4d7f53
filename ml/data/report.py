"""What validation found: one `Issue` per failing column and check, in a `ValidationReport`.

The report is the structured form (for the API and `--json`); the CLI renders the same
fields as a table. Each issue carries how many values or rows fail and a few samples
(row index as in the pandas frame, 0-based over data rows, and the offending value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

MAX_SAMPLES: Final = 5


class IssueKind(StrEnum):
    """Every way data can fail; each has its own message."""

    EMPTY_FILE = "empty_file"
    ENCODING = "encoding"
    TRUNCATED_FILE = "truncated_file"
    MALFORMED_ROWS = "malformed_rows"
    DUPLICATE_HEADER = "duplicate_header"
    MISSING_COLUMN = "missing_column"
    EXTRA_COLUMN = "extra_column"
    WRONG_TYPE = "wrong_type"
    NULLS = "nulls"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_CATEGORY = "unknown_category"
    DUPLICATES = "duplicates"
    ROW_COUNT = "row_count"
    CHECK_ERROR = "check_error"


# Report order: problems with the file before problems with columns before values.
_ORDER: Final = {kind: position for position, kind in enumerate(IssueKind)}


@dataclass(frozen=True)
class Sample:
    """One failing value: its row (0-based data row; None for whole-column failures)."""

    row: int | None
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "value": _json_value(self.value)}

    def __str__(self) -> str:
        value = _json_value(self.value)
        return f"{value!r}" if self.row is None else f"row {self.row}: {value!r}"


@dataclass(frozen=True)
class Issue:
    """One failing check: which column (None for the file or the whole frame), which check,
    how many values or rows fail, and a few of them."""

    kind: IssueKind
    column: str | None
    check: str
    message: str
    count: int
    samples: tuple[Sample, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "column": self.column,
            "check": self.check,
            "message": self.message,
            "count": self.count,
            "samples": [sample.to_dict() for sample in self.samples],
        }


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one file (or frame) against one schema."""

    source: str
    format: str
    schema: str
    schema_sha256: str
    rows: int | None
    """Data rows read; None when the file could not be read at all."""
    columns: tuple[str, ...]
    issues: tuple[Issue, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def kinds(self) -> frozenset[IssueKind]:
        return frozenset(issue.kind for issue in self.issues)

    def for_column(self, column: str) -> tuple[Issue, ...]:
        return tuple(issue for issue in self.issues if issue.column == column)

    def summary(self) -> str:
        if self.ok:
            return (
                f"{self.source}: valid against {self.schema} "
                f"({self.rows} rows, {len(self.columns)} columns)"
            )
        first = self.issues[0].message
        more = len(self.issues) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        return f"{self.source} does not satisfy {self.schema}: {first}{tail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "schema": self.schema,
            "schema_sha256": self.schema_sha256,
            "ok": self.ok,
            "rows": self.rows,
            "columns": list(self.columns),
            "issues": [issue.to_dict() for issue in self.issues],
        }


def sort_issues(issues: list[Issue], column_order: list[str]) -> tuple[Issue, ...]:
    """File problems first, then by kind, then in the schema's column order."""
    position = {name: index for index, name in enumerate(column_order)}
    return tuple(
        sorted(
            issues,
            key=lambda issue: (
                _ORDER[issue.kind],
                position.get(issue.column or "", len(position)),
                issue.column or "",
            ),
        )
    )


def _json_value(value: Any) -> Any:
    """A failure value as plain JSON: numpy scalars unwrapped, NaN and NA as None."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            value = str(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    text = str(value)
    return None if text in ("<NA>", "NaT", "nan") else text
