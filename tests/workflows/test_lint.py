"""Every workflow passes actionlint and GitHub's workflow JSON schema; both linters are
shown to reject a broken copy, so a linter that silently checked nothing would fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workflows import tools
from tests.workflows.rules import all_workflows, dump, load

EXPECTED = {"pull-request.yml", "deploy.yml", "ephemeral.yml", "retrain.yml", "promote.yml"}
WORKFLOWS = all_workflows()


def test_the_five_workflows_exist() -> None:
    assert EXPECTED <= set(WORKFLOWS), f"missing: {sorted(EXPECTED - set(WORKFLOWS))}"


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_actionlint_finds_nothing(
    name: str, actionlint_findings: dict[str, list[dict[str, Any]]]
) -> None:
    findings = actionlint_findings[str(WORKFLOWS[name])]
    assert findings == [], "\n".join(
        f"{name}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings
    )


def test_actionlint_reports_a_broken_copy(actionlint: tools.Linter, tmp_path: Path) -> None:
    workflow, _ = load(WORKFLOWS["deploy.yml"])
    workflow["jobs"]["prod"]["needs"] = "no-such-job"
    workflow["jobs"]["dev"]["steps"].append({"run": "echo ${{ github.event.head_commit.message }}"})
    broken = tmp_path / "deploy.yml"
    broken.write_text(dump(workflow), encoding="utf-8")

    findings = tools.run_actionlint(actionlint, [broken])[str(broken)]

    messages = " ".join(f["message"] for f in findings)
    assert "no-such-job" in messages
    assert "potentially untrusted" in messages


def test_workflows_match_the_github_workflow_schema() -> None:
    done = tools.run_check_jsonschema(list(WORKFLOWS.values()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_rejects_a_broken_copy(tmp_path: Path) -> None:
    workflow, _ = load(WORKFLOWS["retrain.yml"])
    workflow["jobs"]["retrain"]["timeout-minute"] = 5  # a typo of timeout-minutes
    broken = tmp_path / "retrain.yml"
    broken.write_text(dump(workflow), encoding="utf-8")

    done = tools.run_check_jsonschema([broken])

    assert done.returncode == 1
    assert "'timeout-minute' was unexpected" in done.stdout
