"""`mlops pipeline run` and `mlops deploy`: the training pipeline and model promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import typer
from rich.table import Table

from ml.cli.output import BadInput, CheckFailed, console, console_err, exits, mapped_errors

app = typer.Typer(help="The training pipeline: data, train, evaluate, register, deploy.")


@app.command("run")
@exits
def run(
    stack: str = typer.Option(..., "--stack", "-s", help="Stack name."),
    data: Path | None = typer.Option(None, "--data", help="CSV or Parquet file to push first."),
    dataset: str = typer.Option("churn", "--dataset", help="Dataset name."),
    schema: Path | None = typer.Option(None, "--schema", help="Schema file (default: churn)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Hyperparameter k=v."),
    image_tag: str = typer.Option("latest", "--image-tag", help="Serving image tag in ECR."),
    resume: str | None = typer.Option(None, "--resume", help="Resume this run id."),
    no_deploy: bool = typer.Option(False, "--no-deploy", help="Stop after registering."),
) -> None:
    """Push and validate data, train, evaluate against the champion, register, deploy."""
    from ml.pipeline import run_pipeline

    params = dict(item.split("=", 1) for item in param if "=" in item)
    if len(params) != len(param):
        raise BadInput("--param takes key=value, e.g. -p n_estimators=200")
    with _pipeline_errors():
        result = run_pipeline(
            stack,
            data=data,
            dataset=dataset,
            schema=schema,
            params=params,
            image_tag=image_tag,
            resume=resume,
            deploy=not no_deploy,
            on_step=lambda step, text: console_err.print(f"[bold]{step}[/] {text}"),
        )
    table = Table(title=f"pipeline run {result.run_id}: {result.status}")
    table.add_column("step", no_wrap=True)
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for step, outcome in result.steps.items():
        table.add_row(step, str(outcome.get("summary", "")), str(outcome.get("seconds", "")))
    console.print(table)


@exits
def deploy(
    stack: str = typer.Option(..., "--stack", "-s", help="Stack name."),
    model_package: str = typer.Option(..., "--model-package", help="Approved package ARN."),
    no_apply: bool = typer.Option(
        False,
        "--no-apply",
        help="Only write the stack file (for a pull request; the deploy workflow applies it).",
    ),
) -> None:
    """Serve an approved model package: set it in the stack file and apply the stack."""
    from ml.deploy import DeployInputError, DeploymentFailed, promote
    from ml.deploy import deploy as deploy_package
    from ml.stack import StackNotDeployed

    try:
        if no_apply:
            promotion = promote(stack, model_package)
        else:
            result = deploy_package(stack, model_package, on_progress=console_err.print)
    except (DeployInputError, StackNotDeployed) as exc:
        raise BadInput(str(exc)) from None
    except DeploymentFailed as exc:
        raise CheckFailed(str(exc)) from None
    if no_apply:
        was = ", ".join(f"{k.split(':')[-1]}={v}" for k, v in promotion.previous.items())
        was = was or "no model"
        verb = "now serves" if promotion.changed else "already serves"
        console.print(
            f"{promotion.stack_file.name}: {verb} {model_package} (was {was}); nothing applied",
            highlight=False,
        )
        return
    where = result.url or result.endpoint
    console.print(f"{result.endpoint} serves {result.package_arn} ({where})", highlight=False)


def _bad_input() -> tuple[type[BaseException], ...]:
    from ml.data.errors import BadDataInput
    from ml.deploy import DeployInputError
    from ml.pipeline import PipelineInputError
    from ml.stack import StackNotDeployed
    from ml.train.errors import TrainingInputError

    return (
        PipelineInputError,
        StackNotDeployed,
        TrainingInputError,
        DeployInputError,
        BadDataInput,
    )


def _failed() -> tuple[type[BaseException], ...]:
    from ml.data.errors import ValidationFailed
    from ml.deploy import DeploymentFailed

    return (ValidationFailed, DeploymentFailed)


class _pipeline_errors(mapped_errors):  # noqa: N801
    """The pipeline's failures as exit codes; a failed gate also prints its report."""

    def __init__(self) -> None:
        super().__init__(_bad_input, _failed)

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        from ml.pipeline import GateFailed

        if isinstance(exc, GateFailed):
            console_err.print(exc.report, highlight=False)
            raise CheckFailed("the candidate did not pass the evaluation gate") from None
        return super().__exit__(kind, exc, tb)
