"""`mlops` through its public entry point: versions, help, plans and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.plan import plan_stack
from ml.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_version_and_help() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("mlops 0.")
    result = invoke("--help")
    assert result.exit_code == 0
    assert "plan" in result.stdout and "config" in result.stdout


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_plan_json_lists_every_resource(stack: str) -> None:
    result = invoke("plan", "--stack", stack, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"stack", "resources", "violations"}
    assert document["stack"] == stack
    expected = plan_stack(stack)
    assert sorted(r["urn"] for r in document["resources"]) == sorted(
        r.urn for r in expected.resources
    )
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "urn", "parent", "dependencies", "inputs"}
    assert isinstance(document["violations"], list)


def test_plan_table_groups_by_component() -> None:
    result = invoke("plan", "--stack", "dev")
    assert result.exit_code == 0, result.output
    assert "Plan for stack 'dev'" in result.stdout
    assert "resources in" in result.stdout


def test_unknown_stack_exits_2_and_lists_known() -> None:
    result = invoke("plan", "--stack", "nope")
    assert result.exit_code == 2
    assert "unknown stack 'nope'" in result.stderr
    assert "Known stacks: dev, local, prod, staging" in result.stderr


def test_misspelt_key_exits_2_naming_file_key_and_suggestion(project_copy: Path) -> None:
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"]["mlops-platform:endpointDataCapturePercnt"] = data["config"].pop(
        "mlops-platform:endpointDataCapturePercent"
    )
    path.write_text(yaml.safe_dump(data))
    result = invoke("plan", "--stack", "dev")
    assert result.exit_code == 2
    assert "stacks/Pulumi.dev.yaml" in result.stderr
    assert "mlops-platform:endpointDataCapturePercnt" in result.stderr
    assert "did you mean mlops-platform:endpointDataCapturePercent?" in result.stderr


def test_missing_stack_option_is_a_usage_error() -> None:
    assert invoke("plan").exit_code == 2


def test_plan_any_user_program(tmp_path: Path) -> None:
    program = tmp_path / "my_program.py"
    program.write_text(
        "import pulumi_aws as aws\n"
        "def main():\n"
        "    tags = {'owner': 'me', 'cost-center': 'c1', 'environment': 'dev', 'project': 'p'}\n"
        "    aws.sqs.Queue('jobs', message_retention_seconds=600, tags=tags)\n",
        encoding="utf-8",
    )
    result = invoke("plan", "--stack", "dev", "--program", f"{program}:main", "--json")
    assert result.exit_code == 0, result.output
    resources = json.loads(result.stdout)["resources"]
    assert [(r["type"], r["name"]) for r in resources] == [("aws:sqs/queue:Queue", "jobs")]
    assert resources[0]["inputs"]["messageRetentionSeconds"] == 600


def test_bad_program_spec_exits_2(tmp_path: Path) -> None:
    result = invoke("plan", "--stack", "dev", "--program", f"{tmp_path}/none.py:main")
    assert result.exit_code == 2 and "no file" in result.stderr


def test_failing_program_exits_1(tmp_path: Path) -> None:
    program = tmp_path / "bad.py"
    program.write_text("def main():\n    raise ValueError('boom')\n", encoding="utf-8")
    result = invoke("plan", "--stack", "dev", "--program", f"{program}:main")
    assert result.exit_code == 1 and "boom" in result.stderr


def test_config_commands() -> None:
    result = invoke("config", "policy", "--stack", "prod")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["all"] == "mandatory"
    shown = json.loads(invoke("config", "show", "--stack", "dev").stdout)
    assert shown["environment"] == "dev" and shown["network"]["enabled"] is False
    assert "mlops-platform:networkCidr" in invoke("config", "keys").stdout
    assert invoke("config", "show", "--stack", "nope").exit_code == 2


def test_console_script_exit_codes() -> None:
    """The installed entry point, as a user runs it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "ml.cli.main"]
    ok = subprocess.run(
        [*command, "plan", "-s", "local", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["stack"] == "local"
    bad = subprocess.run(
        [*command, "plan", "-s", "nope"], capture_output=True, text=True, env=env, check=False
    )
    assert bad.returncode == 2 and "Known stacks" in bad.stderr


INSECURE = """
import json
import pulumi_aws as aws


def main():
    bucket = aws.s3.Bucket("open", tags={"owner": "me", "cost-center": "x"})
    aws.s3.BucketPolicy(
        "open-policy",
        bucket=bucket.id,
        policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::open/*"}]}),
    )
"""


def test_insecure_user_program_fails_with_violations(tmp_path: Path) -> None:
    program = tmp_path / "insecure.py"
    program.write_text(INSECURE, encoding="utf-8")
    result = invoke("plan", "--stack", "prod", "--program", f"{program}:main", "--json")
    assert result.exit_code == 1
    violations = json.loads(result.stdout)["violations"]
    assert {"policy", "level", "urn", "message"} == set(violations[0])
    by_policy = {v["policy"]: v for v in violations}
    for name in ("s3-bucket-versioned", "s3-bucket-sse-kms", "s3-bucket-policy-no-public-allow"):
        assert by_policy[name]["level"] == "mandatory", name
        assert "open" in by_policy[name]["urn"]
    table = invoke("plan", "--stack", "prod", "--program", f"{program}:main")
    assert table.exit_code == 1
    assert "Policy violations" in table.stdout and "mandatory policy violation" in table.stderr


def test_advisory_violations_do_not_fail_the_plan(tmp_path: Path) -> None:
    program = tmp_path / "insecure.py"
    program.write_text(INSECURE, encoding="utf-8")
    # local makes versioning and encryption advisory but public policies mandatory
    result = invoke("plan", "--stack", "local", "--program", f"{program}:main", "--json")
    levels = {v["policy"]: v["level"] for v in json.loads(result.stdout)["violations"]}
    assert levels["s3-bucket-versioned"] == "advisory"
    assert levels["s3-bucket-policy-no-public-allow"] == "mandatory"
    assert result.exit_code == 1


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_shipped_stacks_have_no_mandatory_violations(stack: str) -> None:
    for flags in ([], ["--preview"]):
        result = invoke("plan", "--stack", stack, "--json", *flags)
        assert result.exit_code == 0, result.stderr
        violations = json.loads(result.stdout)["violations"]
        assert not [v for v in violations if v["level"] == "mandatory"], violations


def test_unknown_policy_in_overrides_is_bad_input(project_copy: Path) -> None:
    path = project_copy / "stacks" / "Pulumi.prod.yaml"
    data = yaml.safe_load(path.read_text())
    data["config"]["mlops-platform:policyOverrides"] = ["s3-bucket-versiond=advisory"]
    path.write_text(yaml.safe_dump(data))
    result = invoke("plan", "--stack", "prod")
    assert result.exit_code == 2
    assert "s3-bucket-versiond" in result.stderr and "s3-bucket-versioned" in result.stderr
