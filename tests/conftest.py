"""Shared fixtures: a throwaway copy of the project to break stack files in."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pulumi.yaml and stacks/ copied to a temp dir that MLOPS_PROJECT_DIR points at."""
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    monkeypatch.setenv("MLOPS_PROJECT_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def write_stack(project_copy: Path) -> Callable[[str, dict[str, object]], Path]:
    """Write stacks/Pulumi.<name>.yaml in the project copy with the given config."""

    def write(name: str, config: dict[str, object]) -> Path:
        path = project_copy / "stacks" / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}), encoding="utf-8")
        return path

    return write
