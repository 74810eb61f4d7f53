"""`mlops models list|approve|reject`: the stack's model registry (SageMaker model packages)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.markup import escape

from ml.cli.output import BadInput, console, console_err, exits

app = typer.Typer(help="Registered models: list, approve, reject.", no_args_is_help=True)

STACK = typer.Option(..., "--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")
NOTE = typer.Option("", "--note", "-n", help="Why: recorded as the approval description.")
ARN = typer.Argument(..., help="Model package ARN (see `mlops models list`).")
_STATUS_STYLE = {"Approved": "green", "Rejected": "red", "PendingManualApproval": "yellow"}


@contextmanager
def _registry_errors() -> Iterator[None]:
    """Unknown stack, missing group, unknown ARN, refused input: all exit 2."""
    from ml.registry import RegistryError
    from ml.stack import StackNotDeployed

    try:
        yield
    except (RegistryError, StackNotDeployed) as error:
        raise BadInput(str(error)) from None


def _handle(stack: str) -> Any:
    from ml.stack import open_stack

    return open_stack(stack)


@app.command("list")
@exits
def list_models(
    stack: str = STACK,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """The stack's model packages, newest first; the champion (newest approved) is marked."""
    from ml.registry import champion, list_packages

    with _registry_errors():
        handle = _handle(stack)
        packages = list_packages(handle)
        best = champion(handle) if packages else None
    gate = handle.outputs.gate_metric
    if as_json:
        rows = [
            {**p.to_dict(), "champion": best is not None and p.arn == best.arn} for p in packages
        ]
        console.out(json.dumps(rows, indent=2), highlight=False)
        return
    if not packages:
        console_err.print(
            f"no models registered in {handle.outputs.model_package_group_name!r} yet"
        )
        return
    # One block per version rather than a table: the ARN (what approve/reject take) stays
    # whole and copyable at any terminal width.
    console.print(
        f"models of stack {stack!r} ({handle.outputs.model_package_group_name}), newest first:",
        highlight=False,
    )
    for package in packages:
        status = package.status.value
        if best is not None and package.arn == best.arn:
            status += " (champion)"
        fields = [
            f"v{package.version}",
            f"[{_STATUS_STYLE[package.status]}]{status}[/]",
            *map(escape, _details(package, gate)),
        ]
        console.print("  ".join(f for f in fields if f), highlight=False)
        console.print(f"    {package.arn}", highlight=False, markup=False)


def _details(package: Any, gate: str) -> list[str]:
    lineage = package.lineage
    score = package.metrics.get(gate)
    return [
        f"{gate} {score:.4f}" if score is not None else f"{gate} -",
        f"{lineage.dataset.name}@{lineage.dataset.version}" if lineage else "no lineage",
        f"commit {lineage.git_commit[:12]}" if lineage else "",
        package.created.strftime("%Y-%m-%d %H:%M:%S"),
    ]


def _change(action: Callable[..., Any], verb: str, arn: str, stack: str, note: str) -> None:
    with _registry_errors():
        package = action(_handle(stack), arn, note)
    console.print(
        f"{verb} {package.arn} (version {package.version}): {package.status.value}",
        highlight=False,
    )


@app.command("approve")
@exits
def approve(arn: str = ARN, stack: str = STACK, note: str = NOTE) -> None:
    """Approve a model package: it becomes deployable and the champion if newest."""
    from ml.registry import approve as approve_package

    _change(approve_package, "approved", arn, stack, note)


@app.command("reject")
@exits
def reject(arn: str = ARN, stack: str = STACK, note: str = NOTE) -> None:
    """Reject a model package: it is never deployed and stops being the champion."""
    from ml.registry import reject as reject_package

    _change(reject_package, "rejected", arn, stack, note)
