"""`mlops up|preview|destroy|outputs`: the real Pulumi engine through the Automation API
(`outputs` also reads a sandbox stack's state)."""

from __future__ import annotations

import json
from typing import Any

import typer

from ml.cli.output import BadInput, console, exits

STACK = typer.Option(..., "--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")


def _automation() -> Any:
    from infra.sandbox import automation

    try:
        automation.require_cli()
    except automation.PulumiCliMissing as exc:
        raise BadInput(str(exc)) from None
    return automation


def _root() -> Any:
    from infra.config import repo_root

    return repo_root()


@exits
def up(stack: str = STACK) -> None:
    """`pulumi up` for the stack, through the Automation API."""
    _automation().up(stack, _root())


@exits
def preview(stack: str = STACK) -> None:
    """`pulumi preview` with the policy pack and the stack's policy config."""
    _automation().preview(stack, _root())


@exits
def destroy(stack: str = STACK) -> None:
    """`pulumi destroy` for the stack."""
    _automation().destroy(stack, _root())


@exits
def outputs(
    stack: str = STACK,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """The stack's outputs: from the sandbox state, else `pulumi stack output`."""
    from infra.sandbox import sandbox

    state = sandbox.status(stack)
    if state.outputs:
        values: Any = state.outputs
    else:
        automation = _automation_or_explain(stack)
        values = automation.outputs(stack, _root())
    if as_json:
        console.out(json.dumps(dict(values), indent=2, sort_keys=True), highlight=False)
    else:
        for key, value in sorted(dict(values).items()):
            console.print(f"{key}: {value}", highlight=False)


def _automation_or_explain(stack: str) -> Any:
    from infra.sandbox import automation

    try:
        automation.require_cli()
    except automation.PulumiCliMissing:
        raise BadInput(
            f"stack {stack!r} has no sandbox deployment (run `mlops sandbox up --stack "
            f"{stack}`), and reading a real stack's outputs needs the Pulumi CLI, which is "
            "not on PATH"
        ) from None
    return automation
