"""Shared CLI plumbing: consoles, the exceptions that become exit codes, and the
decorator that turns them into messages on stderr."""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar

import typer
from rich.console import Console

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2

console = Console(soft_wrap=True)
console_err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(Exception):
    """Exit 2: the user's input (stack, config, arguments) is wrong; says how to fix it."""


class CheckFailed(Exception):
    """Exit 1: the input was fine but a check (policy, gate, health) failed."""


def exits(func: F) -> F:
    """Map BadInput and CheckFailed to a message on stderr and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BadInput as exc:
            console_err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except CheckFailed as exc:
            if str(exc):
                console_err.print(f"[bold red]failed:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_CHECK_FAILED) from None

    return wrapper  # type: ignore[return-value]


Errors = tuple[type[BaseException], ...]


class mapped_errors:  # noqa: N801 (used as a `with` statement, like contextlib's)
    """Re-raise the library's exceptions as BadInput (exit 2) or CheckFailed (exit 1).

    The types come from callables, called only once something failed: importing the
    modules that define them would slow down every CLI start.
    """

    def __init__(self, bad: Callable[[], Errors], failed: Callable[[], Errors] = tuple) -> None:
        self._bad, self._failed = bad, failed

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc is None or isinstance(exc, BadInput | CheckFailed):
            return False
        if isinstance(exc, self._bad()):
            raise BadInput(str(exc)) from None
        if isinstance(exc, self._failed()):
            raise CheckFailed(str(exc)) from None
        return False
