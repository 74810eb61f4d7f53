"""What a resource handler is: create, update and delete one resource type in the emulator.

Handlers receive inputs as the Pulumi SDK hands them to a provider (camelCase keys; whole
numbers may arrive as floats) and return the outputs the provider would (id, arn, name and
whatever the program reads). They are registered by type token in `handlers/__init__.py`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

ANY_CHANGE = "*"


class HandlerError(RuntimeError):
    """The emulator refused an operation; names the resource and the call."""


@dataclass
class Context:
    """What a handler may use: clients for the emulator, where it is, who it is."""

    client: Callable[[str], Any]  # service name -> boto3 client bound to the emulator
    region: str
    account_id: str
    urn: str = ""
    logical_name: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def auto_name(self, max_length: int = 63, separator: str = "-") -> str:
        """Pulumi's auto-naming: the logical name plus a random 7-hex suffix."""
        base = self.logical_name[: max_length - 8]
        return f"{base}{separator}{secrets.token_hex(4)[:7]}"


class Handler:
    """Base class; subclasses set `type_token` and implement create/delete (update optional)."""

    type_token: ClassVar[str]
    # Input keys whose change forces a replacement; ANY_CHANGE means every change does.
    replace_on: ClassVar[frozenset[str]] = frozenset({ANY_CHANGE})
    # Keys whose value is a physical name: if set, a replacement must delete first.
    name_keys: ClassVar[tuple[str, ...]] = ("name",)
    # Whether the resource's id is its physical name (so an orphan can be found by name).
    id_is_name: ClassVar[bool] = False

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Default: updating means deleting and creating again under the same id."""
        raise NotImplementedError

    def delete(self, ctx: Context, rid: str, outputs: Mapping[str, Any]) -> None:
        raise NotImplementedError

    # -- decisions the deployer asks for
    def needs_replace(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        changed = {k for k in {*old, *new} if old.get(k) != new.get(k)}
        if not changed:
            return False
        if ANY_CHANGE in self.replace_on:
            return True
        return bool(changed & self.replace_on) or not self._can_update()

    def find_orphan(self, ctx: Context, inputs: Mapping[str, Any]) -> str | None:
        """The id of what an interrupted create with these inputs may have left behind.

        By default: the fixed physical name, for types whose id is that name. Types named
        otherwise (KMS keys) look their orphans up by the URN tag they are created with.
        """
        if not self.id_is_name:
            return None
        for key in self.name_keys:
            value = inputs.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    def fixed_name(self, inputs: Mapping[str, Any]) -> bool:
        return any(isinstance(inputs.get(k), str) and inputs.get(k) for k in self.name_keys)

    def _can_update(self) -> bool:
        return type(self).update is not Handler.update


URN_TAG = "mlops:sandbox-urn"  # on resources found only by tag after an interrupted create


def as_int(value: Any, default: int | None = None) -> int | None:
    """Whole numbers arrive from the SDK as floats."""
    if value is None:
        return default
    return int(value)


def tags_list(
    tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    return [{key: k, value: str(v)} for k, v in (tags or {}).items()]


def stable_suffix(text: str, size: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def not_found(exc: Exception) -> bool:
    """Whether a botocore ClientError means the thing is already gone.

    Some services (SageMaker, Application Auto Scaling) answer ValidationException both for
    "does not exist" and for real refusals, so for those codes the message decides.
    """
    error = getattr(exc, "response", {}).get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "").lower()
    if any(marker in code for marker in ("NotFound", "NoSuch", "NonExistent")) or code == "404":
        return True
    if code in {"ValidationError", "ValidationException"}:
        gone = ("does not exist", "could not find", "not found", "no such")
        # Application Auto Scaling says "No scalable target found ..." for a missing target.
        return any(t in message for t in gone) or bool(re.search(r"\bno\b.*\bfound\b", message))
    return False
