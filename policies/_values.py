"""Plain, unknown-aware views of the property bags CrossGuard hands to policies.

The pulumi_policy SDK wraps properties in proxies that raise ``UnknownValueError`` when a
value is unknown (preview). If a policy lets that exception escape, the SDK replaces the
policy's verdict with an advisory "can't run policy during preview" note, so the policy
says nothing useful. Policies here first convert the proxy into plain Python data in which
every unknown value is the :data:`UNKNOWN` singleton, then decide explicitly:
an unknown value is never a violation, an absent value (``None``) can be.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy.proxy import UnknownValueError

# The engine's wire sentinels for unknown values (pulumi_policy/proxy.py lists the same).
# A raw sentinel string can reach us when a caller hands plain dicts to a check.
UNKNOWN_SENTINELS: Final[frozenset[str]] = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (what the Go engine sends)
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


class _Unknown:
    """Type of :data:`UNKNOWN`; a singleton so ``is`` comparisons are safe."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = _Unknown()


class Tri(enum.Enum):
    """A three-valued answer: unknown inputs must not turn into violations."""

    YES = "yes"
    NO = "no"
    UNSURE = "unsure"


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Deep-copy ``value`` (proxy or plain) into dicts/lists with unknowns as UNKNOWN."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value):
            try:
                item = value[key]
            except UnknownValueError:
                out[str(key)] = UNKNOWN
                continue
            out[str(key)] = plain(item)
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                items.append(UNKNOWN)
                continue
            items.append(plain(item))
        return items
    return value


def get(obj: Any, *path: str | int) -> Any:
    """Walk ``path`` through dicts/lists; None when absent, UNKNOWN when unknown on the way."""
    current = obj
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(current, list) or key >= len(current):
                return None
            current = current[key]
        else:
            if not isinstance(current, dict):
                return None
            current = current.get(key)
        if current is None:
            return None
    return current


def first(obj: Any, *keys: str) -> Any:
    """The value of the first of ``keys`` present in ``obj`` (v6/v7 singular vs plural names)."""
    for key in keys:
        value = get(obj, key)
        if value is not None:
            return value
    return None


def items(value: Any) -> list[Any]:
    """Normalise "one object or a list of them" (MaxItems=1 blocks) to a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value]


def strings(value: Any) -> tuple[list[str], bool]:
    """Known strings in ``value`` (a string or list) and whether any part was unknown."""
    known: list[str] = []
    unsure = False
    for item in items(value):
        if item is UNKNOWN:
            unsure = True
        elif isinstance(item, str):
            known.append(item)
    return known, unsure


def truth(value: Any) -> Tri:
    """Interpret a wire boolean; strings "true"/"false" appear in IAM conditions and configs."""
    if value is UNKNOWN:
        return Tri.UNSURE
    if isinstance(value, bool):
        return Tri.YES if value else Tri.NO
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return Tri.YES if value.lower() == "true" else Tri.NO
    return Tri.NO


def number(value: Any) -> float | None:
    """A known number (wire numbers are floats); None for absent, unknown or non-numeric."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def combine_any(verdicts: Iterable[Tri]) -> Tri:
    """YES if any is YES; else UNSURE if any is UNSURE; else NO (also for none at all)."""
    seen_unsure = False
    for verdict in verdicts:
        if verdict is Tri.YES:
            return Tri.YES
        if verdict is Tri.UNSURE:
            seen_unsure = True
    return Tri.UNSURE if seen_unsure else Tri.NO


def json_document(value: Any) -> Any:
    """A policy document given as an object or a JSON string; UNKNOWN/None pass through.

    Programs pass IAM documents either as dicts (sent as objects on the wire, e.g. under
    mocks) or as ``json.dumps`` strings (what the provider's Check returns); accept both.
    A string that is not JSON yields None, which callers treat as "no usable document".
    """
    if value is None or value is UNKNOWN or isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return plain(parsed) if isinstance(parsed, dict) else None
    return None


_AWS_MANAGED_ALIAS: Final = re.compile(r"(^|:)alias/aws/")


def is_aws_managed_key(value: Any) -> bool:
    """A KMS key reference to an AWS-managed key: ``alias/aws/<service>`` or its ARN.

    AWS reserves the ``alias/aws/`` prefix for AWS-managed keys, whose key policy the
    account cannot restrict, so they do not count as customer-managed keys.
    """
    return isinstance(value, str) and bool(_AWS_MANAGED_ALIAS.search(value))


def label(kind: str, name: str) -> str:
    """How messages name a resource: its kind and its Pulumi logical name."""
    return f"{kind} '{name}'"


def combine_all(verdicts: Iterable[Tri]) -> Tri:
    """NO if any is NO; else UNSURE if any is UNSURE; else YES."""
    seen_unsure = False
    for verdict in verdicts:
        if verdict is Tri.NO:
            return Tri.NO
        if verdict is Tri.UNSURE:
            seen_unsure = True
    return Tri.UNSURE if seen_unsure else Tri.YES


@dataclass(frozen=True)
class Verdict:
    """A tri-state answer with the reason to print when it is NO."""

    state: Tri
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.state is Tri.NO


PASS: Final = Verdict(Tri.YES)
UNSURE: Final = Verdict(Tri.UNSURE)


def fail(reason: str) -> Verdict:
    return Verdict(Tri.NO, reason)


def best(verdicts: Iterable[Verdict], default_reason: str) -> Verdict:
    """PASS if any passes, UNSURE if any is unsure, else the first failure (or a default)."""
    failures: list[Verdict] = []
    unsure = False
    for verdict in verdicts:
        if verdict.state is Tri.YES:
            return PASS
        if verdict.state is Tri.UNSURE:
            unsure = True
        else:
            failures.append(verdict)
    if unsure:
        return UNSURE
    return failures[0] if failures else fail(default_reason)


def from_tri(state: Tri, reason: str) -> Verdict:
    return Verdict(state, reason if state is Tri.NO else "")
