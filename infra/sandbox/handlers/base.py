"""What a resource handler is: create, update and delete one resource type in the emulator.

Handlers receive inputs as the Pulumi SDK hands them to a provider (camelCase keys; whole
numbers may arrive as floats) and return the outputs the provider would (id, arn, name and
whatever the program reads). They are registered by type token in `handlers/__init__.py`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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


class PutHandler(Handler):
    """A resource written by one idempotent put call (a dashboard, a lifecycle or scaling
    policy, a bucket's configuration): creating and updating are the same call under the
    resource's id, so subclasses say only what the id is and how to put."""

    def create(self, ctx: Context, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        rid = self.id_for(ctx, inputs)
        return rid, self.put(ctx, rid, inputs)

    def update(
        self,
        ctx: Context,
        rid: str,
        old_inputs: Mapping[str, Any],
        new_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
    ) -> dict[str, Any]:
        return self.put(ctx, rid, new_inputs)

    def id_for(self, ctx: Context, inputs: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def put(self, ctx: Context, rid: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


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


@contextmanager
def gone_is_fine(is_gone: Callable[[Exception], bool] = not_found) -> Iterator[None]:
    """Deleting what is already gone is not an error (a second `down`, a manual cleanup).

    `is_gone` decides what counts as gone; a service whose "not found" is ambiguous
    (SageMaker) passes a stricter test than `not_found`.
    """
    try:
        yield
    except Exception as exc:
        if not is_gone(exc):
            raise


def physical_name(
    ctx: Context, inputs: Mapping[str, Any], max_length: int, suffix: str = ""
) -> str:
    """The provider's naming: `name` as given, else `namePrefix` plus a random 7-hex part,
    else an auto-name of at most `max_length` characters; `suffix` (".fifo") ends the last
    two. Shared so that every handler names what it creates the way the provider would."""
    if inputs.get("name"):
        return str(inputs["name"])
    if inputs.get("namePrefix"):
        return f"{inputs['namePrefix']}{ctx.auto_name(max_length=max_length)[-7:]}{suffix}"
    return f"{ctx.auto_name(max_length=max_length - len(suffix))}{suffix}"


def retag(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    tag: Callable[[dict[str, str]], Any],
    untag: Callable[[list[str]], Any],
) -> None:
    """Bring the `tags` of the `old` inputs to those of the `new`: untag the keys dropped,
    then tag those added or changed. Tagging APIs differ per service (tag list or map, key
    names), so the caller's `tag` gets the changed tags as a plain mapping and shapes the
    call itself."""
    before, after = dict(old.get("tags") or {}), dict(new.get("tags") or {})
    dropped = sorted(set(before) - set(after))
    if dropped:
        untag(dropped)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if changed:
        tag(changed)


def given(inputs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """The inputs of `names` that are set (truthy), under their API names and unchanged:
    the common "pass it on when the program gave it" part of a create request."""
    return {api: inputs[wire] for wire, api in names.items() if inputs.get(wire)}


def attribute_string(value: Any) -> str:
    """An attribute value as string-typed attribute APIs (SNS, SQS) hold it: booleans
    lower-case, whole numbers (which arrive from the SDK as floats) without ".0"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- Mapping provider inputs (camelCase members) to API shapes (PascalCase members) --------

Convert = Callable[[Any], Any]
# provider member -> (API member, conversion of the value)
Fields = Mapping[str, tuple[str, Convert]]


def mapped(source: Mapping[str, Any] | None, fields: Fields) -> dict[str, Any]:
    """The members of `source` that `fields` names, renamed and converted; absent ones
    (missing or None, or converted to None) are left out, as the provider leaves them out
    of its requests."""
    out: dict[str, Any] = {}
    for wire, (api, convert) in fields.items():
        value = (source or {}).get(wire)
        if value is not None:
            converted = convert(value)
            if converted is not None:
                out[api] = converted
    return out


def mapped_one(fields: Fields) -> Convert:
    """A conversion for a nested structure: map it with `fields`."""
    return lambda value: mapped(value, fields)


def mapped_each(fields: Fields) -> Convert:
    """A conversion for a list of nested structures: map each with `fields`."""
    return lambda values: [mapped(value, fields) for value in values]


def mapped_first(fields: Fields) -> Convert:
    """A provider list of at most one item that the API takes as a single structure."""
    return lambda values: mapped(values[0], fields) if values else None
