"""Reading IAM-style policy documents (identity, bucket, key and trust policies)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any, Final

from ._values import UNKNOWN, Tri, combine_any, get, items, json_document, strings

# Condition keys that pin a wildcard principal to an account, organisation, network or
# calling service. AWS Access Analyzer treats a "*" grant limited by one of these as
# non-public, so we do too; any other condition (e.g. aws:SecureTransport) does not.
RESTRICTING_CONDITION_KEYS: Final[frozenset[str]] = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalservicename",
        "aws:userid",
        "kms:calleraccount",
    }
)

_SERVICE_WILDCARD: Final = re.compile(r"^[A-Za-z0-9-]+:\*$")


def statements(document: Any) -> list[Any]:
    """Statements of a document given as dict or JSON string; [UNKNOWN] if unknowable."""
    doc = json_document(document)
    if doc is UNKNOWN:
        return [UNKNOWN]
    if not isinstance(doc, dict):
        return []
    return items(doc.get("Statement"))


def effect_is(statement: Any, wanted: str) -> Tri:
    value = get(statement, "Effect")
    if value is UNKNOWN:
        return Tri.UNSURE
    return Tri.YES if isinstance(value, str) and value.lower() == wanted.lower() else Tri.NO


def principal_is_everyone(principal: Any) -> Tri:
    """``"*"`` or ``{"AWS": "*"}`` (also inside a list) means anyone, including anonymous."""
    if principal is UNKNOWN:
        return Tri.UNSURE
    if principal == "*":
        return Tri.YES
    if not isinstance(principal, dict):
        return Tri.NO
    values, unsure = strings(principal.get("AWS"))
    if "*" in values:
        return Tri.YES
    return Tri.UNSURE if unsure else Tri.NO


def condition_keys(statement: Any) -> tuple[set[str], bool]:
    """Lower-cased condition keys of a statement and whether the condition was unknown."""
    condition = get(statement, "Condition")
    if condition is UNKNOWN:
        return set(), True
    if not isinstance(condition, dict):
        return set(), False
    keys: set[str] = set()
    unsure = False
    for block in condition.values():
        if block is UNKNOWN:
            unsure = True
        elif isinstance(block, dict):
            keys.update(key.lower() for key in block)
    return keys, unsure


def grants_everyone(statement: Any) -> Tri:
    """An Allow to a wildcard principal (or Allow+NotPrincipal) with no restricting condition."""
    allow = effect_is(statement, "Allow")
    if allow is Tri.NO:
        return Tri.NO
    if get(statement, "NotPrincipal") is not None:
        everyone = Tri.YES  # Allow + NotPrincipal grants everybody except the listed ones
    else:
        everyone = principal_is_everyone(get(statement, "Principal"))
    if everyone is Tri.NO:
        return Tri.NO
    keys, unsure = condition_keys(statement)
    if keys & RESTRICTING_CONDITION_KEYS:
        return Tri.NO
    if unsure or allow is Tri.UNSURE or everyone is Tri.UNSURE:
        return Tri.UNSURE
    return Tri.YES


def actions(statement: Any) -> tuple[list[str], bool]:
    return strings(get(statement, "Action"))


def is_full_wildcard(action: str) -> bool:
    return action in ("*", "*:*")


def is_service_wildcard(action: str) -> bool:
    return bool(_SERVICE_WILDCARD.match(action))


@functools.lru_cache(maxsize=512)
def _action_pattern(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE)


def action_matches(pattern: str, action: str) -> bool:
    """Whether an Action/NotAction entry (``*`` and ``?`` wildcards, any case) covers ``action``."""
    return _action_pattern(pattern).fullmatch(action) is not None


def granted_actions(statement: Any, wanted: Iterable[str]) -> list[str]:
    """Which of ``wanted`` an Allow statement certainly grants (Action or NotAction).

    Unknown parts grant nothing here: an unknown Action may name anything, so callers that
    report a grant must not guess one. Allow + NotAction grants every action it does not
    list, so ``wanted`` actions outside a fully known NotAction list are granted.
    """
    if effect_is(statement, "Allow") is not Tri.YES:
        return []
    not_action = get(statement, "NotAction")
    if not_action is not None:
        excluded, unsure = strings(not_action)
        if unsure:
            return []
        return [a for a in wanted if not any(action_matches(p, a) for p in excluded)]
    patterns, _ = actions(statement)
    return [a for a in wanted if any(action_matches(p, a) for p in patterns)]


def condition_value_false(statement: Any, key: str, operators: tuple[str, ...]) -> Tri:
    """Whether ``Condition[<op>][key]`` is false (bool or "false") under one of ``operators``."""
    condition = get(statement, "Condition")
    if condition is UNKNOWN:
        return Tri.UNSURE
    if not isinstance(condition, dict):
        return Tri.NO
    verdicts: list[Tri] = []
    for operator, block in condition.items():
        if operator not in operators:
            continue
        if block is UNKNOWN:
            verdicts.append(Tri.UNSURE)
            continue
        if not isinstance(block, dict):
            continue
        for cond_key, value in block.items():
            if cond_key.lower() != key.lower():
                continue
            verdicts.extend(_is_false(item) for item in items(value))
    return combine_any(verdicts)


def _is_false(value: Any) -> Tri:
    if value is UNKNOWN:
        return Tri.UNSURE
    if value is False or (isinstance(value, str) and value.lower() == "false"):
        return Tri.YES
    return Tri.NO
