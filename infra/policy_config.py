"""Write `policies/config/<stack>.json` from the stack files.

The stack file is the one place a stack's policy levels and limits are set
(`policyEnforcement`, `policyOverrides`, and the instance types, counts and retentions it
uses); these JSON files are what `pulumi preview --policy-pack policies
--policy-pack-config policies/config/<stack>.json` reads where the CLI runs. A test fails
when they are stale: regenerate with `python -m infra.policy_config`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from infra.config import load_project, load_stack_config, repo_root


def render(stack: str, root: Path | None = None) -> str:
    return json.dumps(load_stack_config(stack, root).policy_pack_config(), indent=2) + "\n"


def config_file(stack: str, root: Path | None = None) -> Path:
    return (root or repo_root()) / "policies" / "config" / f"{stack}.json"


def main() -> int:
    root = repo_root()
    for stack in load_project(root).stacks():
        path = config_file(stack, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(stack, root), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
