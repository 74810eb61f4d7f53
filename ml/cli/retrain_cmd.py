"""`mlops retrain --consume`: run the training pipeline for queued retraining requests."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from ml.cli.output import BadInput, CheckFailed, console, exits

STACK = typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")


@exits
def retrain(
    *,
    stack: Annotated[str, STACK],
    consume: Annotated[
        bool,
        typer.Option(
            "--consume", help="Receive requests from the stack's queue and retrain for each."
        ),
    ] = False,
    max_messages: Annotated[
        int,
        typer.Option(
            "--max", min=1, help="Handle at most this many requests (one pipeline run each)."
        ),
    ] = 1,
    wait: Annotated[
        int,
        typer.Option("--wait", min=0, max=20, help="Seconds to wait for a request (long polling)."),
    ] = 20,
    retry_after: Annotated[
        int | None,
        typer.Option(
            "--retry-after",
            min=0,
            max=43_200,
            help="Retry a failed request after this many seconds (default: the queue's timeout).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Consume retraining requests: delete each after the pipeline succeeds, keep failures."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ml.monitor.quality import StackPrefixError
    from ml.retrain import NoRetrainingQueue, PipelineMissing, default_pipeline
    from ml.retrain import consume as consume_requests
    from ml.stack import StackNotDeployed, open_stack

    if not consume:
        raise BadInput("nothing to do: pass --consume to run the pipeline for queued requests")
    try:
        pipeline = default_pipeline()
        handle = open_stack(stack)
        summary = consume_requests(
            handle,
            pipeline,
            max_messages=max_messages,
            wait_seconds=wait,
            retry_after=retry_after,
        )
    except (PipelineMissing, StackNotDeployed, NoRetrainingQueue, StackPrefixError) as exc:
        raise BadInput(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise BadInput(
            f"AWS call failed: {exc}. Fix: check the stack is deployed and the credentials "
            "may receive from and delete on its retraining queue"
        ) from None
    if as_json:
        console.out(json.dumps(summary.to_dict(), indent=2), highlight=False)
    else:
        _print(summary)
    if not summary.ok:
        raise CheckFailed(
            f"{summary.count('failed')} request(s) failed and {summary.count('malformed')} "
            "message(s) were not requests; they stay on the queue for a retry (then the DLQ)"
        )


def _print(summary: Any) -> None:
    if not summary.handled:
        console.print("no retraining request on the queue")
        return
    table = Table(title="Retraining requests")
    for column in ("Message", "Key", "Outcome", "Detail"):
        table.add_column(column)
    for item in summary.handled:
        table.add_row(item.message_id, item.key or "", item.outcome, item.detail)
    console.print(table)
