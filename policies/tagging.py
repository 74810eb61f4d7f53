"""Tagging policy: every taggable AWS resource carries the required tags.

Tags can come from the resource's ``tags`` or from the AWS provider's ``default_tags``
(the SDK hands the resource's provider and its inputs to resource policies), so both are
merged before checking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from pulumi_policy import EnforcementLevel, Policy

from ._framework import MlopsResourcePolicy, Subject, schema
from ._values import UNKNOWN, get, json_document
from .taggable import taggable_types

DEFAULT_REQUIRED_TAGS: Final = ("owner", "cost-center")


def _provider_default_tags(provider_props: dict[str, Any]) -> Any:
    """The provider's default_tags.tags; providers may receive nested config as JSON text."""
    default_tags = json_document(get(provider_props, "defaultTags"))
    if default_tags is UNKNOWN:
        return UNKNOWN
    tags = get(default_tags, "tags")
    return tags if isinstance(tags, dict) or tags is UNKNOWN else {}


def _has_value(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value.strip() != "")


def _check_required_tags(subject: Subject) -> Iterator[str]:
    required = list(subject.config.get("tags", DEFAULT_REQUIRED_TAGS))
    own = get(subject.props, "tags")
    defaults = _provider_default_tags(subject.provider_props)
    if own is UNKNOWN or defaults is UNKNOWN:
        return
    merged = {**defaults, **(own if isinstance(own, dict) else {})}
    missing = [key for key in required if not _has_value(merged.get(key))]
    if missing:
        kind = subject.type.rsplit(":", 1)[-1]
        yield (
            f"{kind} '{subject.name}' is missing required tag(s) {', '.join(missing)}. Add them "
            "to its tags (or to the AWS provider's default_tags)."
        )


POLICIES: Final[list[Policy]] = [
    MlopsResourcePolicy(
        name="required-tags",
        description=(
            "Checks that every taggable AWS resource has the required tags (own tags or "
            "provider default_tags) with non-empty values."
        ),
        level=EnforcementLevel.MANDATORY,
        resource_types=taggable_types(),
        check=_check_required_tags,
        remediation="Add the missing keys to the resource's tags or the provider's default_tags.",
        config_schema=schema(
            {
                "tags": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "uniqueItems": True,
                    "description": "Tag keys every taggable resource must carry.",
                    "default": list(DEFAULT_REQUIRED_TAGS),
                }
            }
        ),
    ),
]
