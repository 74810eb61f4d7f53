"""The workflows keep every rule in tests/workflows/rules.py, and agree with the project:
the stacks and policy configs they name exist, one Pulumi CLI version, and the README
lists every variable and secret they read."""

from __future__ import annotations

import re
from itertools import product

import pytest

from tests.workflows import rules
from tests.workflows.rules import REPO, all_workflows, load

WORKFLOWS = all_workflows()
CASES = [
    pytest.param(name, rule, id=f"{name}-{rule.__name__}")
    for name in sorted(WORKFLOWS)
    for rule in rules.rules_for(name)
]
README_SECTION = "## CI/CD in your repository"


@pytest.mark.parametrize(("name", "rule"), CASES)
def test_workflow_keeps_rule(name: str, rule: rules.Rule) -> None:
    workflow, text = load(WORKFLOWS[name])
    assert rule(workflow, text) == []


def test_every_workflow_has_its_specific_rules() -> None:
    assert set(rules.SPECIFIC_RULES) == set(WORKFLOWS)


def _expand(value: str, job: rules.Job) -> list[str]:
    """A value with `${{ matrix.<key> }}` expanded over the job's matrix."""
    keys = re.findall(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", value)
    if not keys:
        return [value]
    combos = product(*(rules.matrix_values(job, key) for key in keys))
    expanded = []
    for combo in combos:
        result = value
        for key, item in zip(keys, combo, strict=True):
            result = re.sub(rf"\$\{{\{{\s*matrix\.{re.escape(key)}\s*\}}\}}", str(item), result)
        expanded.append(result)
    return expanded


def test_stacks_and_policy_configs_named_by_pulumi_steps_exist() -> None:
    checked = 0
    for path in WORKFLOWS.values():
        workflow, _ = load(path)
        for job in rules.jobs(workflow).values():
            for step in rules.pulumi_commands(job):
                given = rules.with_(step)
                for stack in _expand(str(given["stack-name"]), job):
                    assert (REPO / "stacks" / f"Pulumi.{stack}.yaml").is_file(), stack
                    checked += 1
                for config in _expand(str(given.get("policyPackConfigs", "")), job):
                    assert (REPO / config).is_file(), f"{path.name}: {config} does not exist"
    assert checked >= len(rules.DEPLOY_ORDER) + len(rules.PREVIEWED)


def test_every_pulumi_step_installs_one_exact_cli_version() -> None:
    versions = {
        (path.name, str(rules.with_(step).get("pulumi-version")))
        for path in WORKFLOWS.values()
        for job in rules.jobs(load(path)[0]).values()
        for step in rules.steps(job)
        if rules.action(step) == rules.PULUMI
    }
    assert versions, "no pulumi/actions step found"
    assert len({v for _, v in versions}) == 1, versions
    assert all(re.fullmatch(r"3\.\d+\.\d+", v) for _, v in versions), versions


def test_readme_lists_every_variable_and_secret_the_workflows_read() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_SECTION in readme, f"README.md has no section {README_SECTION!r}"
    section = readme.split(README_SECTION, 1)[1]
    names = {
        name
        for path in WORKFLOWS.values()
        for name in re.findall(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]*)", path.read_text())
    } - {"GITHUB_TOKEN"}
    assert names, "the workflows read no variables: the pattern is wrong"
    missing = sorted(name for name in names if f"`{name}`" not in section)
    assert missing == [], f"not documented in the README section: {missing}"
