"""The real Pulumi path (Automation API). Here, without the CLI, only its refusal and its
provider settings are verifiable; the runs themselves skip, saying why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from infra.sandbox.automation import EMULATED_SERVICES, emulator_provider_config
from infra.sandbox.handlers import supported_types

NO_CLI = shutil.which("pulumi") is None
needs_cli = pytest.mark.skipif(NO_CLI, reason="needs the Pulumi CLI, not installed on this machine")


def mlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ml.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.skipif(not NO_CLI, reason="the Pulumi CLI is installed: the refusal cannot happen")
@pytest.mark.parametrize(
    "args",
    [
        ("up", "--stack", "dev"),
        ("preview", "--stack", "dev"),
        ("destroy", "--stack", "dev"),
        ("sandbox", "up", "--engine", "pulumi", "--endpoint", "http://127.0.0.1:4566"),
        ("sandbox", "down", "--engine", "pulumi", "--endpoint", "http://127.0.0.1:4566"),
    ],
)
def test_without_the_cli_the_real_path_says_so_in_one_line_and_exits_2(
    args: tuple[str, ...],
) -> None:
    result = mlops(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "needs the Pulumi CLI" in lines[0]


def test_the_provider_points_every_stack_service_at_the_emulator() -> None:
    config = emulator_provider_config("http://localhost:4566", "us-east-1")
    assert config["aws:s3UsePathStyle"] == "true"
    assert config["aws:skipCredentialsValidation"] == "true"
    assert config["aws:skipRequestingAccountId"] == "true"
    [endpoints] = config["aws:endpoints"]
    assert set(endpoints.values()) == {"http://localhost:4566"}
    # every AWS service a shipped stack's resources live in has an endpoint
    services = {t.split(":")[1].split("/")[0] for t in supported_types()}
    rename = {"cloudwatch": {"cloudwatch", "logs", "events"}}
    needed = set().union(*(rename.get(s, {s}) for s in services))
    assert needed <= set(EMULATED_SERVICES) | {"sts"}


@needs_cli
@pytest.mark.pulumi_cli
def test_preview_through_the_automation_api() -> None:
    result = mlops("preview", "--stack", "dev")
    assert result.returncode == 0, result.stderr


@needs_cli
@pytest.mark.pulumi_cli
def test_sandbox_with_the_pulumi_engine_on_an_emulator(emulator: object) -> None:
    url = getattr(emulator, "url")  # noqa: B009 (the session's moto server)
    up = mlops("sandbox", "up", "--engine", "pulumi", "--endpoint", url, "--json")
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["stack"] == "local"
    down = mlops("sandbox", "down", "--engine", "pulumi", "--endpoint", url)
    assert down.returncode == 0, down.stderr
