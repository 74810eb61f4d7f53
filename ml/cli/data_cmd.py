"""`mlops data push|list|get|validate|reference`: versioned, validated datasets in the
stack's bucket (and the reference dataset for demos).

Exit codes: 0 ok, 1 the data failed validation (nothing uploaded) or its checksum,
2 bad input (missing file, bad schema, unknown dataset or version, unusable stack).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ml.cli.output import BadInput, CheckFailed, console, console_err, exits

if TYPE_CHECKING:
    from ml.data.report import ValidationReport
    from ml.stack import StackHandle

app = typer.Typer(help="Versioned, validated datasets in the stack's datasets bucket.")

STACK = typer.Option(..., "--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")
SCHEMA = typer.Option(
    ..., "--schema", help="Schema file (YAML or JSON), e.g. ml/data/schemas/churn.yaml."
)
JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
FILE = typer.Argument(..., help="CSV or Parquet file.")
TARGET = typer.Argument(..., help="File to write: .csv or .parquet.")
REF = typer.Argument(..., help="NAME@VERSION or NAME@latest.")
OUTPUT = typer.Option(
    Path("."), "--output", "-o", help="Directory or file to write (default: here)."
)


@app.command("validate")
@exits
def validate(
    file: Path = FILE,
    schema: Path = SCHEMA,
    as_json: bool = JSON,
) -> None:
    """Check a file against a schema, offline (no stack needed)."""
    from ml.data import load_schema, validate_file

    with _errors():
        report = validate_file(file, load_schema(schema), schema_name=str(schema))
    if as_json:
        console.out(json.dumps(report.to_dict(), indent=2), highlight=False)
    else:
        print_report(report, console)
    if not report.ok:
        raise CheckFailed(escape(report.summary()))


@app.command("push")
@exits
def push(
    file: Path = FILE,
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset name, e.g. churn."),
    schema: Path = SCHEMA,
    stack: str = STACK,
    as_json: bool = typer.Option(False, "--json", help="Print the version's manifest."),
) -> None:
    """Validate a file, then upload it as a new version (same bytes: the existing one)."""
    from ml.data import load_schema
    from ml.data import push as push_data

    with _errors():
        loaded = load_schema(schema)  # a bad schema is reported before the stack is opened
        handle = _open(stack)
        version = push_data(handle, file, dataset, loaded)
    if as_json:
        console.out(version.to_json(), highlight=False)
        return
    console.print(
        f"{version.ref}  {version.rows} rows  sha256 {version.sha256[:12]}  "
        f"s3://{version.bucket}/{version.key}",
        highlight=False,
    )


@app.command("list")
@exits
def list_(
    stack: str = STACK,
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    as_json: bool = JSON,
) -> None:
    """Pushed versions, oldest first."""
    from ml.data import list_versions

    with _errors():
        versions = list_versions(_open(stack), dataset)
    if as_json:
        rows = [version.to_dict() for version in versions]
        console.out(json.dumps(rows, indent=2), highlight=False)
        return
    if not versions:
        console_err.print(f"no datasets pushed to stack {stack!r} yet", highlight=False)
        return
    table = Table()
    for name in ("dataset", "version", "created", "rows", "format", "sha256", "commit"):
        # ids are copied from here: never wrap them; let the date wrap on a narrow terminal
        table.add_column(
            name, no_wrap=name != "created", justify="right" if name == "rows" else "left"
        )
    for version in versions:
        table.add_row(
            version.dataset,
            version.version,
            version.created.strftime("%Y-%m-%d %H:%M:%S"),
            str(version.rows),
            version.format,
            version.sha256[:12],
            version.git_commit[:12],
        )
    console.print(table)


@app.command("get")
@exits
def get(
    ref: str = REF,
    stack: str = STACK,
    output: Path = OUTPUT,
) -> None:
    """Download a version, byte-identical to what was pushed (sha256-checked)."""
    from ml.data import get as get_data

    with _errors():
        path = get_data(_open(stack), ref, output)
    console.print(str(path), highlight=False)


@app.command("reference")
@exits
def reference(
    output: Path = TARGET,
    rows: int = typer.Option(5000, "--rows", min=1, help="Number of customers."),
    seed: int = typer.Option(7, "--seed", min=0, help="Random seed (same seed, same data)."),
    drift: float = typer.Option(0.0, "--drift", min=0.0, help="Covariate shift; 1 = one std."),
) -> None:
    """Write the reference churn dataset (schema: ml/data/schemas/churn.yaml)."""
    from ml.data import DataFormat
    from ml.data.formats import format_of
    from ml.data.reference import make_churn

    with _errors():
        fmt = format_of(output)
    frame = make_churn(rows, seed, drift)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt is DataFormat.PARQUET:
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    console.print(f"{output}: {rows} rows (seed {seed}, drift {drift:g})", highlight=False)


def print_report(report: ValidationReport, out: Console) -> None:
    """The report as a table: one row per failing column and check."""
    if report.ok:
        out.print(f"[green]ok[/]: {escape(report.summary())}", highlight=False)
        return
    table = Table(title=escape(report.source))
    table.add_column("column", no_wrap=True)
    table.add_column("problem", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("message")
    table.add_column("samples")
    for issue in report.issues:
        table.add_row(
            Text(issue.column or "-"),
            issue.kind.value,
            str(issue.count),
            Text(issue.message),
            Text("\n".join(str(sample) for sample in issue.samples)),
        )
    out.print(table)


def _open(stack: str) -> StackHandle:
    from ml.stack import StackNotDeployed, open_stack

    try:
        return open_stack(stack)
    except StackNotDeployed as error:
        raise BadInput(escape(str(error))) from None


@contextmanager
def _errors() -> Iterator[None]:
    """The data package's errors as the CLI's: bad input exits 2, failed checks exit 1."""
    from ml.data import BadDataInput, IntegrityError, ValidationFailed

    try:
        yield
    except ValidationFailed as error:
        print_report(error.report, console_err)
        raise CheckFailed(escape(f"{error} (nothing was uploaded)")) from None
    except IntegrityError as error:
        raise CheckFailed(escape(str(error))) from None
    except BadDataInput as error:
        raise BadInput(escape(str(error))) from None
