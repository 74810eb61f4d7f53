"""Keep `Pulumi.yaml`'s config declarations in step with `StackConfig`.

Pulumi's project schema knows string, integer, boolean and array; fractional thresholds
are declared as strings (quote them in stack files) and parsed as numbers by the model.

`python -m infra.project_file` rewrites the `config:` block; a test fails when it is stale.
Values the project itself supplies for keys without a built-in default (owner, cost
center, repository) are kept.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, get_origin

import yaml

from infra.config import PROJECT_NAMESPACE, REQUIRED, config_keys, repo_root


def _schema_type(annotation: Any) -> str:
    if get_origin(annotation) is tuple:
        return "array"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    return "string"  # str, Literal, enums, optional strings and floats


def declarations(existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `config:` block for Pulumi.yaml: every project key with type, description, default."""
    existing = existing or {}
    block: dict[str, Any] = {}
    for spec in config_keys().values():
        namespace, _, key = spec.key.partition(":")
        if namespace != PROJECT_NAMESPACE:
            continue  # provider keys take values only, never schemas
        kind = _schema_type(spec.annotation)
        decl: dict[str, Any] = {"type": kind, "description": spec.description}
        if kind == "array":
            decl["items"] = {"type": "string"}
        default = spec.default
        if default is REQUIRED:
            default = (existing.get(key) or {}).get("default")
        if default is not None:
            if isinstance(default, tuple):
                default = list(default)
            elif get_origin(spec.annotation) is Literal or hasattr(default, "value"):
                default = str(getattr(default, "value", default))
            elif isinstance(default, float):
                default = str(default)
            decl["default"] = default
        block[key] = decl
    return block


def render(path: Path) -> str:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    head = {k: v for k, v in data.items() if k != "config"}
    body = yaml.safe_dump(head, sort_keys=False)
    config = yaml.safe_dump(
        {"config": declarations(data.get("config"))}, sort_keys=False, width=100
    )
    return (
        body
        + "# Generated from infra/config.py by `python -m infra.project_file`; edit the model,\n"
        + "# or the defaults of owner, costCenter and ciGithubRepository, which are yours.\n"
        + config
    )


def main() -> int:
    path = repo_root() / "Pulumi.yaml"
    path.write_text(render(path), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
