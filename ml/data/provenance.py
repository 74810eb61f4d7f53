"""Where pushed data came from: the source commit, recorded in every manifest."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Final

UNKNOWN: Final = "unknown"


def git_commit(cwd: Path | None = None) -> str:
    """`GITHUB_SHA` in GitHub Actions (a CI checkout may be detached or shallow), else
    `git rev-parse HEAD` in `cwd` (default: the current directory), else "unknown"."""
    from_ci = os.environ.get("GITHUB_SHA", "").strip()
    if from_ci:
        return from_ci
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return UNKNOWN
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else UNKNOWN
