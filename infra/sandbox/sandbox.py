"""Ephemeral stacks in the embedded emulator: up, down, status and outputs.

`up` validates the stack's config, checks before anything is created that every resource
type the program declares has a handler, starts (or re-attaches to) the stack's emulator,
and deploys the program into it with the `SandboxMocks` deployer. `down` deletes what the
state records, dependents first, then stops the emulator it started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.sandbox.deployer import (
    DeployReport,
    SandboxMocks,
    UnsupportedResourceError,
    destroy,
)
from infra.sandbox.handlers import HANDLERS
from infra.sandbox.state import SandboxState, StateStore


def sandbox_dir(stack: str, root: Path | None = None) -> Path:
    from infra.config import repo_root

    return (root or repo_root()) / ".mlops" / "sandbox" / stack


class EmulatorAccountMismatch(ValueError):
    def __init__(self, stack: str, url: str, actual: str, configured: str) -> None:
        super().__init__(
            f"the emulator at {url} reports account {actual}, but stack {stack!r} is pinned to "
            f"{configured} (aws:allowedAccountIds). Nothing was created. Fix: set "
            f"aws:allowedAccountIds: ['{actual}'] in the stack file, or start the emulator "
            "with that account (moto: MOTO_ACCOUNT_ID)"
        )


@dataclass
class UpResult:
    report: DeployReport
    outputs: Mapping[str, Any]
    emulator_url: str


def check_supported(
    stack: str,
    root: Path | None,
    overrides: Mapping[str, Any] | None,
    program: Callable[[], Any] | None = None,
) -> None:
    """Plan first (preview: nothing runs against the emulator) and refuse unknown types."""
    from infra.plan import plan_stack

    preview = plan_stack(
        stack, root=root, preview=True, overrides=overrides, program=program, validate=True
    )
    missing = sorted({r.type for r in preview.resources if r.custom and r.type not in HANDLERS})
    if missing:
        raise UnsupportedResourceError(missing)


def up(
    stack: str,
    *,
    root: Path | None = None,
    endpoint: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    program: Callable[[], Any] | None = None,
) -> UpResult:
    from infra.plan import resolve_stack, run_program

    run = resolve_stack(stack, root=root, overrides=overrides)  # bad config: nothing starts
    check_supported(stack, root, overrides, program)
    directory = sandbox_dir(stack, root)
    store = StateStore(directory, stack)
    with store.locked():
        previous = store.load()
        emulator = _emulator(directory, endpoint or previous.external_url or None)
        previous.emulator_url = emulator.url
        previous.external_url = emulator.url if emulator.is_external else ""
        account = emulator.client("sts", run.region).get_caller_identity()["Account"]
        if account != run.account_id:
            raise EmulatorAccountMismatch(stack, emulator.url, account, run.account_id)
        mocks = SandboxMocks(
            store=store,
            previous=previous,
            client=lambda service: emulator.client(service, run.region),
            region=run.region,
            account_id=account,
        )
        if program is None:
            from infra.stack import program as project_program

            program = project_program
        plan = run_program(
            program, project=run.project, stack=stack, config=run.config, mocks=mocks
        )
        report = mocks.finish(plan.outputs)
    return UpResult(report, plan.outputs, emulator.url)


def down(stack: str, *, root: Path | None = None, keep_emulator: bool = False) -> DeployReport:
    from infra.plan import resolve_stack

    directory = sandbox_dir(stack, root)
    store = StateStore(directory, stack)
    with store.locked():
        state = store.load()
        report = DeployReport()
        emulator = _attached(directory, state)
        if state.resources:
            if emulator is None:
                raise RuntimeError(
                    f"the emulator of stack {stack!r} is not running, so its "
                    f"{len(state.resources)} recorded resources cannot be deleted. Fix: "
                    f"run `mlops sandbox up --stack {stack}` (it re-attaches or restarts), "
                    "then `down` again."
                )
            region = resolve_stack(stack, root=root, validate=False).region
            account = emulator.client("sts", region).get_caller_identity()["Account"]
            report = destroy(
                state,
                store,
                client=lambda service: emulator.client(service, region),
                region=region,
                account_id=account,
            )
        if emulator is not None and not keep_emulator and not emulator.is_external:
            emulator.stop()
        store.delete()
    return report


def status(stack: str, root: Path | None = None) -> SandboxState:
    return StateStore(sandbox_dir(stack, root), stack).load()


def _emulator(directory: Path, external_url: str | None) -> Any:
    """An emulator someone else runs (--endpoint), else ours: re-attached or started."""
    from infra.sandbox.emulator import Emulator

    if external_url:
        return Emulator.external(external_url)
    return Emulator.attach(directory) or Emulator.start(state_dir=directory)


def _attached(directory: Path, state: SandboxState) -> Any:
    from infra.sandbox.emulator import Emulator, EmulatorError

    if not state.external_url:
        return Emulator.attach(directory)
    try:
        return Emulator.external(state.external_url)
    except EmulatorError:
        return None
