"""Kubernetes API dictionaries, as the components build them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

Manifest = dict[str, Any]


def api(manifest: Manifest) -> Any:
    """`manifest` as pulumi-kubernetes takes it. Its resources pass camelCase API
    dictionaries through unchanged (the keys kubectl and the OpenAPI schema use), while
    its typed dicts spell the same keys in snake_case; returning Any keeps the type
    checker from comparing the two spellings."""
    return manifest


def object_metadata(name: str, namespace: Any, labels: Mapping[str, str]) -> Manifest:
    """Metadata of an object in the stack's namespace (`namespace` may be an Output, so
    the object waits for the namespace)."""
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def name_of(resource: Any) -> pulumi.Output[str]:
    """A Kubernetes resource's name as the API server reports it: what refers to it by
    this Output waits until it exists."""
    name: pulumi.Output[str] = resource.metadata.apply(lambda m: str(m.name))
    return name
