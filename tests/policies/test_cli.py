"""The real path: `pulumi preview --policy-pack policies` on the local stack.

Needs the Pulumi CLI (and the project's Pulumi.yaml, stacks and provider plugins); the
lead finishes it on a machine that has them. The offline tests never count as this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.pulumi_cli
@pytest.mark.skipif(
    shutil.which("pulumi") is None, reason="needs the Pulumi CLI, not installed on this machine"
)
def test_pulumi_preview_with_policy_pack_on_local_stack():
    env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "")}
    result = subprocess.run(
        [
            "pulumi",
            "preview",
            "--stack",
            "local",
            "--non-interactive",
            "--policy-pack",
            "policies",
            "--policy-pack-config",
            "policies/config/local.json",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "mlops-platform" in output, output  # the pack was loaded and ran
    assert result.returncode == 0, output  # no mandatory violation on the local stack
