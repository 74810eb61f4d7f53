"""`mlops plan`: run a stack's program under Pulumi mocks, show the resource graph, and
check it against the policy pack. No CLI, no cloud."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import typer
from rich.table import Table

from ml.cli.output import BadInput, CheckFailed, console, exits


@exits
def plan(
    stack: str = typer.Option(
        ..., "--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml)."
    ),
    program: str | None = typer.Option(
        None,
        "--program",
        "-p",
        help="Plan another program: PATH.py:FUNCTION or MODULE:FUNCTION (default: this project).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    preview: bool = typer.Option(
        False, "--preview", help="As in `pulumi preview`: computed outputs are unknown."
    ),
) -> None:
    """Plan a stack offline and check it against the policy pack."""
    from infra.config import ConfigError, UnknownStackError
    from infra.plan import ProgramError, ProgramSpecError, load_program, plan_stack

    try:
        func = load_program(program) if program else None
        result = plan_stack(stack, program=func, preview=preview)
    except (ConfigError, UnknownStackError, ProgramSpecError) as exc:
        raise BadInput(str(exc)) from None
    except ProgramError as exc:
        raise CheckFailed(f"the program failed under the mocks: {exc}") from None

    violations: list[dict[str, Any]] = []
    if as_json:
        document = {
            "stack": stack,
            "resources": [r.to_json() for r in result.resources],
            "violations": violations,
        }
        console.out(json.dumps(document, indent=2, sort_keys=False), highlight=False)
    else:
        _print_table(result)
    if any(v["level"] == "mandatory" for v in violations):
        raise CheckFailed("")


def _print_table(result: Any) -> None:
    by_urn = {r.urn: r for r in result.resources}
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for r in result.resources:
        if not r.custom:
            continue
        owner = by_urn.get(r.parent or "")
        label = f"{owner.type} {owner.name}" if owner else "(stack)"
        groups[label][r.type] += 1
    table = Table(
        title=f"Plan for stack {result.stack!r}" + (" (preview)" if result.preview else "")
    )
    table.add_column("component")
    table.add_column("resource type", no_wrap=True)
    table.add_column("count", justify="right")
    for label in sorted(groups):
        first = True
        for type_, count in sorted(groups[label].items()):
            table.add_row(label if first else "", type_, str(count))
            first = False
        table.add_section()
    console.print(table)
    custom = sum(1 for r in result.resources if r.custom)
    console.print(
        f"{custom} resources in {len(result.components())} components; "
        f"{len(result.outputs)} stack outputs."
    )
