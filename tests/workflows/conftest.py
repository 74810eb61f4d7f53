"""Fixtures of the workflow tests: the workflows, and actionlint installed once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows import tools
from tests.workflows.rules import all_workflows


@pytest.fixture(scope="session")
def actionlint() -> tools.Linter:
    """The pinned actionlint build, installed into .mlops/tools on first use."""
    try:
        return tools.install_actionlint()
    except tools.ToolMissing as exc:
        pytest.skip(f"actionlint cannot run here: {exc}")


@pytest.fixture(scope="session")
def actionlint_findings(actionlint: tools.Linter) -> dict[str, list[dict[str, Any]]]:
    """actionlint's findings for every workflow, linted in one run (per test worker)."""
    return tools.run_actionlint(actionlint, list(all_workflows().values()))
