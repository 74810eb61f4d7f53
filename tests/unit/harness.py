"""What the component tests share: running a small program under the plan mocks, and
catching what a component registers as its outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from infra.plan import Plan, run_program


def plan_component(
    program: Callable[[], Any], *, region: str, preview: bool = False, mocks: Any = None
) -> Plan:
    """`program` planned as a stack `test` of the project, in `region`."""
    return run_program(
        program,
        project="mlops-platform",
        stack="test",
        config={"aws:region": region},
        preview=preview,
        mocks=mocks,
    )


def spy_registered_outputs(
    monkeypatch: pytest.MonkeyPatch, component: type[pulumi.ComponentResource]
) -> dict[str, Any]:
    """The dict a component's `register_outputs` fills, for comparing with its attributes."""
    seen: dict[str, Any] = {}
    original = pulumi.ComponentResource.register_outputs

    def spy(self: pulumi.ComponentResource, outputs: dict[str, Any]) -> None:
        seen.update(outputs)
        original(self, outputs)

    monkeypatch.setattr(component, "register_outputs", spy)
    return seen
