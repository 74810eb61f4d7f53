"""`mlops demo`: the whole ML lifecycle on the embedded emulator (the README's first command)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ml.cli.output import CheckFailed, console, console_err, exits


@exits
def demo(
    keep: bool = typer.Option(False, "--keep", help="Leave the sandbox and endpoint running."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Use a running emulator instead of starting one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Sandbox up, pipeline, traffic, drift, monitoring, retraining, promotion."""
    from infra.config import repo_root
    from ml.demo import run_demo

    source = repo_root()
    root = source / ".mlops" / "demo"
    try:
        summary = run_demo(
            source=source,
            root=root,
            endpoint=endpoint,
            keep=keep,
            on_stage=lambda stage, text: console_err.print(f"[bold green]{stage}[/] {text}"),
        )
    except Exception as exc:
        raise CheckFailed(f"the demo stopped: {exc}") from exc
    if as_json:
        console.out(json.dumps(summary.to_dict(), indent=2), highlight=False)
    else:
        table = Table(title="mlops demo")
        table.add_column("stage", no_wrap=True)
        table.add_column("result")
        table.add_column("s", justify="right")
        for stage, text, seconds in summary.stages:
            table.add_row(stage, text, str(seconds))
        console.print(table)
        console.print(f"monitoring report: {summary.report}", highlight=False)
        console.print(f"model v1: {summary.first_package}", highlight=False)
        console.print(f"model v2 (serving): {summary.second_package}", highlight=False)
        if keep:
            console.print(
                f"sandbox kept: MLOPS_PROJECT_DIR={Path(summary.root)} mlops predict --stack local",
                highlight=False,
            )
    if not summary.second_package or summary.second_package == summary.first_package:
        raise CheckFailed("retraining did not promote a second model")
