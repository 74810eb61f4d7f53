"""IAM policy documents as plain dictionaries: statements, documents and their size.

Pure and dependency-free, so every module that writes IAM (roles, permissions, the
permissions boundary, the Pulumi backend grants) builds statements the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

PolicyDocument = dict[str, Any]

# IAM size quotas, in characters without whitespace: all inline policies of one role
# together, and one customer-managed policy.
INLINE_POLICY_LIMIT: Final = 10_240
MANAGED_POLICY_LIMIT: Final = 6_144


def statement(
    sid: str,
    effect: str,
    actions: str | Iterable[str],
    resources: str | Sequence[str],
    condition: Mapping[str, Any] | None = None,
    *,
    not_action: bool = False,
) -> dict[str, Any]:
    """One statement. A single action or resource stays a string (shorter, as IAM writes
    it); lists lose their duplicates. `not_action` (a Deny of everything but `actions`)
    is only ever used with Deny: an Allow with NotAction would grant everything else."""
    if not_action and effect != "Deny":
        raise ValueError(f"statement {sid}: NotAction is only used with Deny")
    built: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        ("NotAction" if not_action else "Action"): (
            actions if isinstance(actions, str) else list(dict.fromkeys(actions))
        ),
        "Resource": resources if isinstance(resources, str) else list(dict.fromkeys(resources)),
    }
    if condition:
        built["Condition"] = dict(condition)
    return built


def allow(
    sid: str,
    actions: Iterable[str],
    resources: str | Sequence[str],
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement; its actions are always a list."""
    return statement(sid, "Allow", list(actions), resources, condition)


def document(*statements: Mapping[str, Any]) -> PolicyDocument:
    """An IAM policy document (version 2012-10-17) of the given statements."""
    return {"Version": "2012-10-17", "Statement": [dict(s) for s in statements]}


def policy_size(doc: PolicyDocument) -> int:
    """Characters IAM counts against its size quotas (whitespace is not counted)."""
    return len(json.dumps(doc, separators=(",", ":")))
