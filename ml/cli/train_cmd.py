"""`mlops train`: train the reference model on a stack, with the runner the stack asks for.

    mlops train --stack local --dataset churn@3 --param algorithm=logistic_regression

Prints the job, its holdout metrics (and how they stand against the stack's gate minimum; the
comparison with the champion happens when the model is registered) and the S3 URI of the
model artifact. The training stack (scikit-learn, MLflow) is imported only when it runs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ml.cli.output import BadInput, CheckFailed, console, console_err, exits

if TYPE_CHECKING:
    from ml.stack import StackHandle
    from ml.train.dataset import TrainingData

STACK = typer.Option(..., "--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")
DATASET = typer.Option(..., "--dataset", "-d", help="Dataset to train on, as NAME@VERSION.")
PARAM = typer.Option(
    None, "--param", "-p", help="Hyperparameter as key=value (repeatable), e.g. seed=7."
)
INSTANCE_TYPE = typer.Option(
    None, "--instance-type", help="SageMaker runner: an instance type the stack allows."
)
IMAGE_TAG = typer.Option(
    "latest", "--image-tag", help="SageMaker runner: tag of the training image in the stack's ECR."
)


def _open_stack(stack: str) -> StackHandle:
    from ml.stack import StackNotDeployed, open_stack

    try:
        return open_stack(stack)
    except StackNotDeployed as exc:
        raise BadInput(str(exc)) from None


def _load_training_data(handle: StackHandle, dataset: str) -> TrainingData:
    """The dataset version through ml.data.load_frame, with its schema's label and features."""
    from ml.data import BadDataInput, DataError
    from ml.train.dataset import load_training_data

    try:
        return load_training_data(handle, dataset)
    except BadDataInput as exc:
        raise BadInput(str(exc)) from None
    except DataError as exc:  # stored data that fails its schema or checksum
        raise CheckFailed(str(exc)) from None


def _project_dir() -> Any:
    from infra.config import repo_root

    return repo_root()


@exits
def train(
    *,
    stack: str = STACK,
    dataset: str = DATASET,
    param: list[str] | None = PARAM,
    instance_type: str | None = INSTANCE_TYPE,
    image_tag: str = IMAGE_TAG,
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Train on a dataset version; print the job, holdout metrics and the artifact's S3 URI."""
    from ml import train as training
    from ml.evaluate import HIGHER_IS_BETTER, evaluate_gate, gate_thresholds

    name, sep, version = dataset.partition("@")
    if not sep or not name or not version:
        raise BadInput(f"--dataset {dataset!r} is not NAME@VERSION; write e.g. churn@3")
    try:
        given = training.parse_param_pairs(param or [])
        training.TrainParams.from_hyperparameters(given)  # typos fail before the stack opens
        handle = _open_stack(stack)
        runner = training.runner_for(handle, instance_type=instance_type, image_tag=image_tag)
        data = _load_training_data(handle, dataset)
        # The schema's label and categorical columns, unless the command line says otherwise.
        params = training.TrainParams.from_hyperparameters(
            {**data.hyperparameter_defaults(), **given}
        )
        result = training.train(
            handle,
            data.frame,
            dataset=data.ref,
            params=params,
            runner=runner,
            tracking_uri=training.resolve_tracking_uri(project_dir=_project_dir()),
        )
    except training.TrainingInputError as exc:
        raise BadInput(str(exc)) from None
    except training.TrainingJobFailed as exc:
        raise CheckFailed(str(exc)) from None

    gate = evaluate_gate(result.metrics, gate_thresholds(handle.outputs))
    if as_json:
        summary = {
            "job_name": result.job_name,
            "job_arn": result.job_arn,
            "runner": result.runner,
            "computed_locally": result.computed_locally,
            "model_artifact": result.model_artifact,
            "metrics": result.metrics,
            "meets_gate_minimum": gate.passed,
            "dataset": result.dataset,
            "git_commit": result.git_commit,
            "mlflow_run_id": result.mlflow_run_id,
            "tracking_uri": result.tracking_uri,
        }
        console.out(json.dumps(summary, indent=2, sort_keys=True), highlight=False)
        return
    where = "; computed locally" if result.computed_locally and result.job_arn else ""
    console.print(
        f"job: {result.job_name} ({result.runner} runner{where})", highlight=False, markup=False
    )
    table = Table("metric", "holdout", title=f"dataset {result.dataset}", title_justify="left")
    ordered = [*(m for m in HIGHER_IS_BETTER if m in result.metrics), *sorted(result.metrics)]
    for key in dict.fromkeys(ordered):
        value = result.metrics[key]
        table.add_row(key, f"{value:.0f}" if key.endswith("rows") else f"{value:.4f}")
    console.print(table)
    thresholds = gate.thresholds
    verdict = "meets" if gate.passed else "is BELOW"
    console.print(
        f"{thresholds.metric} {verdict} the stack's minimum {thresholds.minimum:.4f} "
        "(the champion comparison runs at registration)",
        highlight=False,
    )
    console.print(f"artifact: {result.model_artifact}", highlight=False)
    if result.mlflow_run_id:
        console_err.print(
            f"mlflow run {result.mlflow_run_id} at {result.tracking_uri}", highlight=False
        )
