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
    from infra.config import ConfigError, UnknownStackError, load_stack_config
    from infra.plan import ProgramError, ProgramSpecError, load_program, plan_stack
    from policies.offline import PolicyConfigError, evaluate

    try:
        func = load_program(program) if program else None
        result = plan_stack(stack, program=func, preview=preview)
        pack_config = _pack_config(stack, load_stack_config, ConfigError)
        violations = evaluate([r.to_policy_input() for r in result.resources], pack_config)
    except (ConfigError, UnknownStackError, ProgramSpecError, PolicyConfigError) as exc:
        raise BadInput(str(exc)) from None
    except ProgramError as exc:
        raise CheckFailed(f"the program failed under the mocks: {exc}") from None

    if as_json:
        document = {
            "stack": stack,
            "resources": [r.to_json() for r in result.resources],
            "violations": [
                {"policy": v.policy, "level": v.level, "urn": v.urn, "message": v.message}
                for v in violations
            ],
        }
        console.out(json.dumps(document, indent=2), highlight=False)
    else:
        _print_table(result)
        _print_violations(violations)
    mandatory = [v for v in violations if v.level in ("mandatory", "remediate")]
    if mandatory:
        raise CheckFailed(f"{len(mandatory)} mandatory policy violation(s)")


def _pack_config(stack: str, load: Any, config_error: type[Exception]) -> Any:
    """The stack's policy config; a user's own project (--program elsewhere) gets the pack's
    defaults when this project's stack file does not describe it."""
    try:
        return load(stack).policy_pack_config()
    except config_error:
        return None


def _print_violations(violations: list[Any]) -> None:
    if not violations:
        console.print("[green]policies: no violations[/]")
        return
    table = Table(title="Policy violations")
    table.add_column("level", no_wrap=True)
    table.add_column("policy", no_wrap=True)
    table.add_column("resource")
    table.add_column("message")
    for v in sorted(violations, key=lambda v: (v.level != "mandatory", v.policy, v.urn)):
        style = "bold red" if v.level == "mandatory" else "yellow"
        table.add_row(f"[{style}]{v.level}[/]", v.policy, v.urn.rsplit("::", 1)[-1], v.message)
    console.print(table)


def short_type(token: str) -> str:
    """`aws:sagemaker/endpointConfiguration:EndpointConfiguration` becomes
    `aws:sagemaker:EndpointConfiguration`: the module path repeats the kind."""
    package, _, rest = token.partition(":")
    module, _, kind = rest.rpartition(":")
    return f"{package}:{module.split('/')[0]}:{kind}" if module else token


def _print_table(result: Any) -> None:
    by_urn = {r.urn: r for r in result.resources}
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for r in result.resources:
        if not r.custom:
            continue
        owner = by_urn.get(r.parent or "")
        label = owner.name if owner else "(stack)"
        groups[label][short_type(r.type)] += 1
    title = f"Plan for stack {result.stack!r}" + (" (preview)" if result.preview else "")
    table = Table(title=title)
    table.add_column("component", no_wrap=True)
    table.add_column("resource type", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True, min_width=5)
    for label in sorted(groups):
        first = True
        for type_, count in sorted(groups[label].items()):
            table.add_row(label if first else "", type_, str(count))
            first = False
        table.add_section()
    custom = sum(1 for r in result.resources if r.custom)
    table.add_row("total", "", str(custom))
    console.print(table)
    console.print(
        f"{custom} resources in {len(result.components())} components; "
        f"{len(result.outputs)} stack outputs."
    )
