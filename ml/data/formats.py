"""Reading CSV and Parquet files, with the file-level problems a schema cannot see.

pandas quietly pads a short CSV row with nulls, so a file cut off mid-row would read as
valid data with a few missing values. Before parsing, the CSV text is therefore decoded
strictly as UTF-8 and scanned with the `csv` module for rows whose field count differs
from the header's. Parquet carries its own structure; a truncated or corrupt file fails
to open and is reported as such. Every CSV value is read as text (nothing inferred), so
that the schema's types decide what a value is and "007" stays "007" in a string column.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import pandas as pd

from ml.data.errors import DataFileNotFound, UnsupportedFormat
from ml.data.report import MAX_SAMPLES, Issue, IssueKind, Sample


class DataFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


EXTENSIONS: Final = {
    ".csv": DataFormat.CSV,
    ".parquet": DataFormat.PARQUET,
    ".pq": DataFormat.PARQUET,
}


@dataclass(frozen=True)
class ReadResult:
    """The frame, or the file-level issues that kept it from being read."""

    frame: pd.DataFrame | None
    issues: tuple[Issue, ...] = ()


def format_of(path: Path) -> DataFormat:
    """The format a file's extension names; `UnsupportedFormat` for any other."""
    try:
        return EXTENSIONS[path.suffix.lower()]
    except KeyError:
        raise UnsupportedFormat(path, EXTENSIONS) from None


def read_table(path: Path) -> ReadResult:
    """Read a data file; a missing file or unknown extension raises (bad input)."""
    fmt = format_of(path)
    if not path.is_file():
        raise DataFileNotFound(path)
    raw = path.read_bytes()
    if not raw.strip():
        return ReadResult(None, (_empty("it has no content"),))
    if fmt is DataFormat.PARQUET:
        return _read_parquet(path)
    return _read_csv(path, raw)


# --- CSV -----------------------------------------------------------------------------------


def _read_csv(path: Path, raw: bytes) -> ReadResult:
    try:
        text = raw.decode("utf-8-sig")  # a leading byte-order mark is not part of the header
    except UnicodeDecodeError as error:
        return ReadResult(None, (_encoding_issue(raw, error),))
    issues = scan_csv(text)
    if issues:
        return ReadResult(None, tuple(issues))
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, ValueError) as error:  # the scan should have caught it
        issue = Issue(IssueKind.MALFORMED_ROWS, None, "parse", f"cannot parse CSV: {error}", 1)
        return ReadResult(None, (issue,))
    return ReadResult(frame)


def scan_csv(text: str) -> list[Issue]:
    """Structural problems of CSV text: no header, duplicate header names, rows with the
    wrong number of fields, and a last row or quoted field cut off by truncation."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    ragged: list[tuple[int, int]] = []  # (line, fields)
    last: tuple[int, int] | None = None
    try:
        for record in reader:
            if not record:
                continue  # blank line: pandas skips them too
            if header is None:
                header = record
                continue
            last = (reader.line_num, len(record))
            if len(record) != len(header):
                ragged.append(last)
    except csv.Error as error:
        return [_broken_csv(reader.line_num, str(error))]
    if header is None:
        return [_empty("it holds only blank lines")]
    issues: list[Issue] = []
    duplicated = [name for name, n in Counter(header).items() if n > 1]
    if duplicated:
        issues.append(
            Issue(
                IssueKind.DUPLICATE_HEADER,
                duplicated[0],
                "header",
                f"the header names column(s) {duplicated} more than once",
                len(duplicated),
            )
        )
    if ragged and ragged[-1] == last and not text.endswith(("\n", "\r")):
        line, fields = ragged.pop()
        issues.append(
            Issue(
                IssueKind.TRUNCATED_FILE,
                None,
                "complete",
                f"the file looks truncated: its last row (line {line}) has {fields} of "
                f"{len(header)} fields and no line end. Fix: re-export or re-copy the "
                "complete file",
                1,
                (Sample(None, f"line {line}"),),
            )
        )
    if ragged:
        samples = tuple(
            Sample(None, f"line {line}: {fields} fields") for line, fields in ragged[:MAX_SAMPLES]
        )
        issues.append(
            Issue(
                IssueKind.MALFORMED_ROWS,
                None,
                "field_count",
                f"{len(ragged)} row(s) do not have the header's {len(header)} fields "
                f"(first at line {ragged[0][0]})",
                len(ragged),
                samples,
            )
        )
    return issues


def _broken_csv(line: int, error: str) -> Issue:
    if "unexpected end of data" in error:  # a quoted field still open at the end of the file
        return Issue(
            IssueKind.TRUNCATED_FILE,
            None,
            "complete",
            f"the file looks truncated: a quoted field opened by line {line} is never closed "
            "(csv: unexpected end of data). Fix: re-export or re-copy the complete file",
            1,
        )
    return Issue(
        IssueKind.MALFORMED_ROWS, None, "parse", f"line {line} is not valid CSV: {error}", 1
    )


def _encoding_issue(raw: bytes, error: UnicodeDecodeError) -> Issue:
    line = raw[: error.start].count(b"\n") + 1
    byte = raw[error.start : error.start + 1].hex().upper()
    guess = _guess_encoding(raw)
    hint = f"possibly {guess}; " if guess else ""
    return Issue(
        IssueKind.ENCODING,
        None,
        "utf-8",
        f"the file is not UTF-8: byte 0x{byte} at offset {error.start} (line {line}) is "
        f"not valid UTF-8 ({hint}re-save it as UTF-8, e.g. `iconv -f <encoding> -t utf-8`)",
        1,
        (Sample(None, f"offset {error.start}"),),
    )


def _guess_encoding(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:65536]).best()
    return None if best is None or best.encoding == "utf_8" else str(best.encoding)


# --- Parquet -------------------------------------------------------------------------------


def _read_parquet(path: Path) -> ReadResult:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        return ReadResult(
            None,
            (
                Issue(
                    IssueKind.TRUNCATED_FILE,
                    None,
                    "complete",
                    f"not a readable Parquet file, it is truncated or corrupt ({error}). "
                    "Fix: re-export or re-copy the complete file",
                    1,
                ),
            ),
        )
    if table.num_columns == 0:
        return ReadResult(None, (_empty("it has no columns"),))
    return ReadResult(table.to_pandas())


def _empty(why: str) -> Issue:
    return Issue(
        IssueKind.EMPTY_FILE,
        None,
        "not_empty",
        f"the file is empty: {why}. Fix: export the data again (with a header row for CSV)",
        1,
    )
