"""Kubernetes API dictionaries, as the components build them."""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]


def api(manifest: Manifest) -> Any:
    """`manifest` as pulumi-kubernetes takes it. Its resources pass camelCase API
    dictionaries through unchanged (the keys kubectl and the OpenAPI schema use), while
    its typed dicts spell the same keys in snake_case; returning Any keeps the type
    checker from comparing the two spellings."""
    return manifest
