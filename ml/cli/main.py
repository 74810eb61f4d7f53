"""`mlops`: the toolkit's command line. One module per command group; this file only
assembles them and maps failures to exit codes (0 ok, 1 a check failed, 2 bad input)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

from ml.cli import config_cmd, plan_cmd, sandbox_cmd, stack_cmd

app = typer.Typer(
    name="mlops",
    help="Infrastructure as code for ML environments: plan, check and run the ML stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.command("plan")(plan_cmd.plan)
app.add_typer(config_cmd.app, name="config")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.command("outputs")(stack_cmd.outputs)
app.command("up")(stack_cmd.up)
app.command("preview")(stack_cmd.preview)
app.command("destroy")(stack_cmd.destroy)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"mlops {version('mlops-platform')}")
        except PackageNotFoundError:  # running from a source tree that is not installed
            typer.echo("mlops (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Infrastructure as code for ML environments on AWS."""


def run() -> None:
    """Console-script entry point (click's usage errors exit 2 by themselves)."""
    app()


if __name__ == "__main__":
    run()
