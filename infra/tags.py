"""Tag merging: stack provenance first, a component's own tags next, the Name last."""

from __future__ import annotations

from collections.abc import Mapping


def merge_tags(
    stack_tags: Mapping[str, str], own: Mapping[str, str] | None = None, *, name: str | None = None
) -> dict[str, str]:
    merged = {**stack_tags, **(own or {})}
    if name is not None:
        merged["Name"] = name
    return merged
