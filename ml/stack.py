"""How ml/ reaches a provisioned stack: its `StackOutputs` and AWS clients bound to it.

A sandbox stack (deployed by `mlops sandbox up`) is read from its state file and its
clients talk to the emulator; any other stack is read with `pulumi stack output --json`
and its clients use the ambient AWS credentials. Jobs never look anything else up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.outputs import StackOutputs


class StackNotDeployed(LookupError):
    """No outputs for the stack: neither a sandbox deployment nor a Pulumi stack."""


@dataclass
class StackHandle:
    """One stack's outputs, and boto3 clients that reach where it lives."""

    outputs: StackOutputs
    endpoint_url: str | None = None  # the emulator's, for a sandbox stack
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            kwargs: dict[str, Any] = {
                "region_name": self.outputs.region,
                "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
            }
            if self.endpoint_url:
                kwargs.update(
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            self._clients[service] = boto3.client(service, **kwargs)
        return self._clients[service]

    def env(self) -> dict[str, str]:
        """Environment for a child process (a training job) to reach the same stack."""
        env = {"AWS_DEFAULT_REGION": self.outputs.region, "AWS_REGION": self.outputs.region}
        if self.endpoint_url:
            env.update(
                AWS_ENDPOINT_URL=self.endpoint_url,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
            )
        return env


def open_stack(stack: str, root: Path | None = None) -> StackHandle:
    """The stack's handle: the sandbox deployment if there is one, else the Pulumi stack."""
    from infra.sandbox.sandbox import status

    state = status(stack, root)
    if state.outputs:
        url = state.external_url or state.emulator_url
        return StackHandle(StackOutputs.from_exports(state.outputs), endpoint_url=url or None)
    override = os.environ.get("MLOPS_STACK_OUTPUTS")
    if override:  # a file with `pulumi stack output --json`, e.g. from a CI step
        return StackHandle(StackOutputs.from_exports(json.loads(Path(override).read_text())))
    if shutil.which("pulumi") is None:
        raise StackNotDeployed(
            f"stack {stack!r} has no sandbox deployment and the Pulumi CLI is not on PATH. "
            f"Fix: run `mlops sandbox up --stack {stack}`, or set MLOPS_STACK_OUTPUTS to a "
            "file holding `pulumi stack output --json`"
        )
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackNotDeployed(f"pulumi stack output for {stack!r} failed: {result.stderr}")
    return StackHandle(StackOutputs.from_exports(json.loads(result.stdout)))
