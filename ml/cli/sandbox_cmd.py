"""`mlops sandbox`: ephemeral stacks on an AWS emulator.

The embedded engine (default) deploys the stack's program into moto's server, started and
stopped by the toolkit; `--engine pulumi` runs real `pulumi up` against `--endpoint`
(LocalStack, say) and needs the Pulumi CLI.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import typer
from rich.table import Table

from ml.cli.output import BadInput, console, console_err, exits, mapped_errors

app = typer.Typer(help="Ephemeral stacks on an AWS emulator (no cloud, no Docker).")


class Engine(enum.StrEnum):
    embedded = "embedded"
    pulumi = "pulumi"


STACK = typer.Option("local", "--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")
ENDPOINT = typer.Option(
    None, "--endpoint", help="Use an emulator that is already running, e.g. http://localhost:4566."
)
ENGINE = typer.Option(Engine.embedded, "--engine", help="embedded (moto deployer) or pulumi.")


@app.command("up")
@exits
def up(
    stack: str = STACK,
    engine: Engine = ENGINE,
    endpoint: str | None = ENDPOINT,
    as_json: bool = typer.Option(False, "--json", help="Print the stack outputs as JSON."),
) -> None:
    """Deploy the stack into the emulator; a second run changes only what changed."""
    if engine is Engine.pulumi:
        outputs = _pulumi(lambda a, root: a.sandbox_up(stack, root, _need(endpoint)))
    else:
        from infra.sandbox import sandbox

        with _errors():
            result = sandbox.up(stack, endpoint=endpoint)
        console_err.print(
            f"sandbox {stack!r} at {result.emulator_url}: {result.report.summary()}",
            highlight=False,
        )
        outputs = result.outputs
    _print_outputs(outputs, as_json)


@app.command("down")
@exits
def down(
    stack: str = STACK,
    engine: Engine = ENGINE,
    endpoint: str | None = ENDPOINT,
    keep_emulator: bool = typer.Option(
        False, "--keep-emulator", help="Leave the embedded emulator running."
    ),
) -> None:
    """Delete everything the stack made in the emulator, then stop the emulator."""
    if engine is Engine.pulumi:
        _pulumi(lambda a, root: a.sandbox_down(stack, root, _need(endpoint)))
        return
    from infra.sandbox import sandbox
    from ml.deploy import stop_serving

    stop_serving(stack)  # the local endpoint serving the stack's model, if any
    with _errors():
        report = sandbox.down(stack, keep_emulator=keep_emulator)
    console_err.print(f"sandbox {stack!r} down: {report.count('delete')} deleted", highlight=False)


@app.command("status")
@exits
def status(stack: str = STACK) -> None:
    """Show what the sandbox state records for a stack."""
    from infra.sandbox import sandbox

    state = sandbox.status(stack)
    if not state.resources:
        console.print(f"sandbox {stack!r}: nothing deployed")
        return
    table = Table(title=f"sandbox {stack!r} at {state.emulator_url}")
    for column in ("type", "name", "id", "status"):
        table.add_column(column, no_wrap=column == "type")
    for record in state.ordered():
        if record.custom:
            table.add_row(record.type, record.name, record.id, record.status)
    console.print(table)


def _need(endpoint: str | None) -> str:
    if not endpoint:
        raise BadInput("--engine pulumi needs --endpoint URL (e.g. http://localhost:4566)")
    return endpoint


def _pulumi(action: Any) -> Any:
    from infra.config import repo_root
    from infra.sandbox import automation

    try:
        automation.require_cli()
    except automation.PulumiCliMissing as exc:
        raise BadInput(str(exc)) from None
    return action(automation, repo_root())


def _bad_input() -> tuple[type[BaseException], ...]:
    from infra.config import ConfigError, UnknownStackError
    from infra.sandbox.deployer import UnsupportedResourceError
    from infra.sandbox.sandbox import EmulatorAccountMismatch
    from infra.sandbox.state import StateError

    return (
        ConfigError,
        UnknownStackError,
        UnsupportedResourceError,
        EmulatorAccountMismatch,
        StateError,
    )


def _failed() -> tuple[type[BaseException], ...]:
    from infra.plan import ProgramError
    from infra.sandbox.emulator import EmulatorError

    return (ProgramError, EmulatorError, RuntimeError)


def _errors() -> mapped_errors:
    """The sandbox's failures as exit codes: bad input 2, a failed deployment 1."""
    return mapped_errors(_bad_input, _failed)


def _print_outputs(outputs: Any, as_json: bool) -> None:
    if as_json:
        console.out(json.dumps(dict(outputs), indent=2, sort_keys=True), highlight=False)
        return
    table = Table(title="stack outputs")
    table.add_column("key", no_wrap=True)
    table.add_column("value")
    for key, value in sorted(dict(outputs).items()):
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
    console.print(table)
