"""Each rule catches the mistake it exists for: a copy of a workflow with one mistake
made must produce the expected problem, which the real workflow does not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.workflows import rules
from tests.workflows.rules import all_workflows, load

WORKFLOWS = all_workflows()
Mutation = Callable[[dict[str, Any], str], tuple[dict[str, Any], str]]


def on_data(change: Callable[[dict[str, Any]], None]) -> Mutation:
    """A mutation of the parsed workflow (the text is kept for the pin comments)."""

    def mutate(workflow: dict[str, Any], text: str) -> tuple[dict[str, Any], str]:
        change(workflow)
        return workflow, text

    return mutate


def on_text(old: str, new: str) -> Mutation:
    """A mutation of the first occurrence of `old` in the text (parsed again)."""

    def mutate(workflow: dict[str, Any], text: str) -> tuple[dict[str, Any], str]:
        assert old in text, f"mutation target {old!r} not in the workflow"
        mutated = text.replace(old, new, 1)
        data = yaml.safe_load(mutated)
        data["on"] = data.pop(True)
        return data, mutated

    return mutate


def job(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    job_data: dict[str, Any] = workflow["jobs"][name]
    return job_data


def step_using(workflow: dict[str, Any], job_name: str, repo: str) -> dict[str, Any]:
    return next(s for s in job(workflow, job_name)["steps"] if rules.action(s) == repo)


def step_running(workflow: dict[str, Any], job_name: str, text: str) -> dict[str, Any]:
    return next(s for s in job(workflow, job_name)["steps"] if text in str(s.get("run", "")))


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(workflow: dict[str, Any]) -> None:
        node = workflow
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _delete(path: list[str]) -> Callable[[dict[str, Any]], None]:
    def change(workflow: dict[str, Any]) -> None:
        node = workflow
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


MUTATIONS: list[Any] = [
    # permissions
    ("pull-request.yml", on_data(_set(["permissions"], "write-all")), "top-level permissions"),
    (
        "pull-request.yml",
        on_data(_set(["jobs", "test", "permissions"], {"contents": "read", "id-token": "write"})),
        "grants id-token: write",
    ),
    (
        "pull-request.yml",
        on_data(_delete(["jobs", "preview", "permissions", "pull-requests"])),
        "lacks pull-requests",
    ),
    (
        "retrain.yml",
        on_data(_delete(["jobs", "retrain", "permissions", "id-token"])),
        "lacks id-token: write",
    ),
    # pins
    (
        "deploy.yml",
        on_text("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "actions/checkout@v7"),
        "not pinned to a full commit SHA",
    ),
    ("deploy.yml", on_text(" # v6.2.3", ""), "has no '# vX.Y.Z' comment"),
    ("deploy.yml", on_text("# v7.0.1", "# v7.0.0"), "is not the verified pin"),
    (
        "retrain.yml",
        on_text("pulumi/actions@8e5e406f", "someone/actions@8e5e406f"),
        "not a reviewed action",
    ),
    (
        "ephemeral.yml",
        on_data(
            _set(
                ["jobs", "localstack", "services", "localstack", "image"],
                "localstack/localstack:latest",
            )
        ),
        "not pinned by exact version or digest",
    ),
    # inputs and credentials
    (
        "ephemeral.yml",
        on_data(lambda w: job(w, "embedded")["steps"].append({"uses": "actions/cache@v4"})),
        "not pinned to a full commit SHA",
    ),
    (
        "pull-request.yml",
        on_text("policyPacks: policies", "policy-packs: policies"),
        "has no input 'policy-packs'",
    ),
    (
        "deploy.yml",
        on_data(
            lambda w: step_using(w, "dev", rules.CONFIGURE_AWS)["with"].update(
                {"aws-access-key-id": "${{ secrets.AWS_ACCESS_KEY_ID }}"}
            )
        ),
        "long-lived AWS keys",
    ),
    (
        "pull-request.yml",
        on_data(_set(["jobs", "preview", "environment"], "staging")),
        "inside an environment",
    ),
    (
        "deploy.yml",
        on_data(
            lambda w: step_using(w, "prod", rules.CONFIGURE_AWS)["with"].update(
                {"role-to-assume": "arn:aws:iam::777788889999:role/admin"}
            )
        ),
        "role-to-assume must come from",
    ),
    # script injection
    (
        "retrain.yml",
        on_data(
            lambda w: step_running(w, "retrain", "mlops retrain").update(
                {"run": "mlops retrain --consume --stack ${{ inputs.stack }}"}
            )
        ),
        "interpolates",
    ),
    (
        "pull-request.yml",
        on_data(lambda w: job(w, "test")["steps"].append({"run": "echo ${{ github.head_ref }}"})),
        "interpolates",
    ),
    (
        "deploy.yml",
        on_data(
            lambda w: job(w, "dev")["steps"].append(
                {"run": "echo '${{ github.event.head_commit.message }}'"}
            )
        ),
        "interpolates",
    ),
    # deploy concurrency and order
    (
        "deploy.yml",
        on_data(_set(["jobs", "prod", "concurrency", "cancel-in-progress"], True)),
        "cancel-in-progress: false",
    ),
    (
        "deploy.yml",
        on_data(_delete(["jobs", "staging", "concurrency"])),
        "without a concurrency group",
    ),
    (
        "deploy.yml",
        on_data(_set(["jobs", "prod", "concurrency", "group"], "deploy-staging")),
        "not keyed by prod",
    ),
    (
        "retrain.yml",
        on_data(_set(["jobs", "retrain", "concurrency", "group"], "retrain")),
        "not keyed by",
    ),
    ("deploy.yml", on_data(_set(["jobs", "prod", "needs"], "dev")), "prod does not need staging"),
    ("deploy.yml", on_data(_set(["jobs", "dev", "needs"], "staging")), "dev must deploy first"),
    ("deploy.yml", on_data(_delete(["jobs", "prod", "environment"])), "environments are"),
    ("deploy.yml", on_data(_delete(["jobs", "dev", "timeout-minutes"])), "no timeout-minutes"),
    # policy pack
    (
        "deploy.yml",
        on_data(
            lambda w: step_using(w, "staging", rules.PULUMI)["with"].update(
                {"policyPackConfigs": "policies/config/dev.json"}
            )
        ),
        "policyPackConfigs must be policies/config/staging.json",
    ),
    (
        "pull-request.yml",
        on_data(lambda w: step_using(w, "preview", rules.PULUMI)["with"].pop("policyPacks")),
        "without policyPacks",
    ),
    (
        "deploy.yml",
        on_data(lambda w: job(w, "dev")["steps"].append({"run": "pulumi up --yes -s dev"})),
        "lacks the policy pack",
    ),
    # pull request
    (
        "pull-request.yml",
        on_data(
            lambda w: step_using(w, "preview", rules.PULUMI)["with"].update(
                {"edit-pr-comment": False}
            )
        ),
        "edit-pr-comment",
    ),
    (
        "pull-request.yml",
        on_data(_set(["jobs", "plan", "strategy", "matrix", "stack"], ["local", "dev"])),
        "plans",
    ),
    ("pull-request.yml", on_data(_set(["jobs", "preview", "needs"], ["test"])), "does not need"),
    # ephemeral
    (
        "ephemeral.yml",
        on_data(lambda w: step_running(w, "localstack", "mlops sandbox down").pop("if")),
        "must run if: always()",
    ),
    (
        "ephemeral.yml",
        on_data(
            lambda w: step_running(w, "embedded", "mlops sandbox down").update({"if": "success()"})
        ),
        "must run if: always()",
    ),
    (
        "ephemeral.yml",
        on_data(_delete(["jobs", "localstack", "continue-on-error"])),
        "continue-on-error: true",
    ),
    (
        "ephemeral.yml",
        on_data(_set(["jobs", "localstack", "services", "localstack", "options"], "--rm")),
        "no health check",
    ),
    ("ephemeral.yml", on_data(_set(["on", "pull_request", "paths"], ["infra/**"])), "paths miss"),
    # retrain
    ("retrain.yml", on_data(_delete(["on", "schedule"])), "no schedule"),
    ("retrain.yml", on_data(_delete(["on", "workflow_dispatch"])), "`stack` choice input"),
    # promote
    ("promote.yml", on_text(" --no-apply\n", "\n"), "applies a stack"),
    (
        "promote.yml",
        on_text(
            "vars.RETRAIN_ROLE_ARN }}\n          role-session",
            "vars.DEPLOY_ROLE_ARN }}\n          role-session",
        ),
        "assumes the deploy role",
    ),
    ("promote.yml", on_data(_set(["on", "push"], {"branches": ["main"]})), "not only on"),
    ("promote.yml", on_data(_delete(["jobs", "promote", "environment"])), "outside the stack"),
    (
        "promote.yml",
        on_data(lambda w: job(w, "promote")["steps"].append({"run": "pulumi up --yes -s prod"})),
        "runs a pulumi command",
    ),
    (
        "promote.yml",
        on_data(_set(["jobs", "promote", "permissions", "actions"], "write")),
        "grants actions: write",
    ),
    (
        "promote.yml",
        on_text('PACKAGE" --no-apply', '${{ inputs.model_package }}" --no-apply'),
        "interpolates",
    ),
    (
        "retrain.yml",
        on_text("environment: ${{ matrix.stack }}-ml", "environment: ${{ matrix.stack }}"),
        "outside a `<stack>-ml` environment",
    ),
    # a job that opens no pull request gets no contents: write
    (
        "retrain.yml",
        on_data(_set(["jobs", "retrain", "permissions", "contents"], "write")),
        "grants contents: write",
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    [pytest.param(*case, id=f"{case[0]}-{case[2]}-{i}") for i, case in enumerate(MUTATIONS)],
)
def test_a_mutated_copy_is_caught(name: str, mutate: Mutation, expected: str) -> None:
    workflow, text = load(WORKFLOWS[name])
    assert not [p for p in rules.problems(name, workflow, text) if expected in p]

    mutated, mutated_text = mutate(copy.deepcopy(workflow), text)
    found = rules.problems(name, mutated, mutated_text)

    assert any(expected in problem for problem in found), found
