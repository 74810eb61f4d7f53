"""`mlops config`: what a stack file may say, and what a stack resolves to."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from infra.config import StackConfig
from ml.cli.output import BadInput, console, exits

app = typer.Typer(help="Inspect stack configuration.", no_args_is_help=True)


@app.command("keys")
def keys() -> None:
    """List every key a stack file may set, with its default and meaning."""
    from infra.config import REQUIRED, config_keys

    table = Table(title="Stack configuration keys")
    table.add_column("key", no_wrap=True)
    table.add_column("default")
    table.add_column("description")
    for spec in config_keys().values():
        default = (
            "(required)"
            if spec.default is REQUIRED
            else json.dumps(
                list(spec.default) if isinstance(spec.default, tuple) else spec.default, default=str
            )
        )
        table.add_row(spec.key, default, spec.description)
    console.print(table)


@app.command("show")
@exits
def show(stack: str = typer.Option(..., "--stack", "-s", help="Stack name.")) -> None:
    """Validate a stack's configuration and print it resolved, as JSON."""
    console.out(_load(stack).model_dump_json(indent=2), highlight=False)


@app.command("policy")
@exits
def policy(stack: str = typer.Option(..., "--stack", "-s", help="Stack name.")) -> None:
    """Print the policy pack config for `pulumi preview --policy-pack-config`."""
    console.out(json.dumps(_load(stack).policy_pack_config(), indent=2), highlight=False)


def _load(stack: str) -> StackConfig:
    from infra.config import ConfigError, UnknownStackError, load_stack_config

    try:
        return load_stack_config(stack)
    except (ConfigError, UnknownStackError) as exc:
        raise BadInput(str(exc)) from None
