"""Typed errors of the data package: each says what is wrong, where, and how to fix it.

Two families, because the CLI maps them to different exit codes: bad input (a schema file
that does not parse, a missing file, an unknown dataset or version: exit 2) and data that
was read fine but failed a check (`ValidationFailed`, `IntegrityError`: exit 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.data.report import ValidationReport


class DataError(Exception):
    """Base class of every error raised by ``ml.data``."""


class BadDataInput(DataError):
    """The caller's input cannot be used at all (exit 2 in the CLI)."""


class SchemaFileError(BadDataInput, ValueError):
    """A schema file that cannot be read, parsed or that declares something impossible."""

    def __init__(self, source: str | Path, field: str | None, problem: str) -> None:
        self.source = str(source)
        self.field = field
        self.problem = problem
        where = f"{self.source}: {field}" if field else self.source
        super().__init__(
            f"bad schema {where}: {problem}. Fix: correct the schema file "
            "(ml/data/schemas/churn.yaml is a complete example)"
        )


class SchemaMismatch(BadDataInput, ValueError):
    """A schema that declares another dataset than the one being pushed."""

    def __init__(self, source: str, declared: str, dataset: str) -> None:
        self.declared = declared
        self.dataset = dataset
        super().__init__(
            f"schema {source} is for dataset {declared!r}, not {dataset!r}. Fix: push with "
            f"--dataset {declared}, or use (or write) a schema for {dataset!r}"
        )


class DataFileNotFound(BadDataInput, FileNotFoundError):
    """The data file to validate or push does not exist (or is not a file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"data file {path} does not exist or is not a file. Fix: check the path")


class UnsupportedFormat(BadDataInput, ValueError):
    """A data file whose extension names no supported format."""

    def __init__(self, path: Path, known: Iterable[str]) -> None:
        self.path = path
        self.known = tuple(known)
        super().__init__(
            f"{path}: unsupported data format {path.suffix or '(no extension)'!r}; supported "
            f"extensions: {', '.join(self.known)}. Fix: export the data as CSV or Parquet"
        )


class InvalidDatasetName(BadDataInput, ValueError):
    """A dataset name that cannot be part of an S3 key as this package lays them out."""

    def __init__(self, name: str, rule: str) -> None:
        self.name = name
        super().__init__(f"invalid dataset name {name!r}: {rule}")


class InvalidReference(BadDataInput, ValueError):
    """A dataset reference that is not ``name@version`` (or ``name@latest``)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(
            f"invalid dataset reference {ref!r}. Fix: write NAME@VERSION (a version id from "
            "`mlops data list`) or NAME@latest"
        )


class DatasetNotFound(BadDataInput, LookupError):
    """No version of the dataset has been pushed to the stack."""

    def __init__(self, name: str, known: Iterable[str], bucket: str) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        listed = ", ".join(self.known) if self.known else "none yet"
        super().__init__(
            f"unknown dataset {name!r} in bucket {bucket}; known datasets: {listed}. Fix: "
            "check the name, or push it first with `mlops data push`"
        )


class VersionNotFound(BadDataInput, LookupError):
    """The dataset exists but has no version with this id."""

    def __init__(self, name: str, version: str, known: Iterable[str]) -> None:
        self.name = name
        self.version = version
        self.known = tuple(known)
        super().__init__(
            f"dataset {name!r} has no version {version!r}; known versions (oldest first): "
            f"{', '.join(self.known)}. Fix: use one of them, or {name}@latest"
        )


class DataStoreError(BadDataInput):
    """The stack's datasets bucket cannot be used as this package needs (missing, not
    versioned, access denied); the message names the bucket and the fix."""


class ValidationFailed(DataError):
    """The data does not satisfy its schema; nothing was uploaded. ``report`` says why."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.summary())


class IntegrityError(DataError):
    """Downloaded bytes whose sha256 differs from the one recorded at push time."""

    def __init__(self, ref: str, expected: str, actual: str) -> None:
        self.ref = ref
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{ref}: downloaded data has sha256 {actual}, but its manifest records {expected}; "
            "the stored object was changed after it was pushed. Nothing was written. Fix: "
            "push the dataset again from its source and use the new version"
        )
