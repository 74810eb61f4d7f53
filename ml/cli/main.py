"""`mlops`: the toolkit's command line. One module per command group; this file only
assembles them and maps failures to exit codes (0 ok, 1 a check failed, 2 bad input)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

from ml.cli import config_cmd, models_cmd, plan_cmd, predict_cmd, sandbox_cmd, stack_cmd
from ml.cli.data_cmd import app as data_app
from ml.cli.demo_cmd import demo as demo_command
from ml.cli.monitor_cmd import monitor as monitor_command
from ml.cli.pipeline_cmd import app as pipeline_app
from ml.cli.pipeline_cmd import deploy as deploy_command
from ml.cli.retrain_cmd import retrain as retrain_command
from ml.cli.train_cmd import train as train_command

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
app.add_typer(data_app, name="data")
app.command("train")(train_command)
app.command("outputs")(stack_cmd.outputs)
app.command("up")(stack_cmd.up)
app.command("preview")(stack_cmd.preview)
app.command("destroy")(stack_cmd.destroy)
app.add_typer(models_cmd.app, name="models")
app.command("predict")(predict_cmd.predict)
app.command("monitor")(monitor_command)
app.command("retrain")(retrain_command)
app.add_typer(pipeline_app, name="pipeline")
app.command("deploy")(deploy_command)
app.command("demo")(demo_command)


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
