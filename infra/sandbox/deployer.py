"""The sandbox deployer: the stack's own Pulumi program, deployed into the emulator.

A `pulumi.runtime.Mocks` whose `new_resource` creates (or updates, or replaces) each
resource in the emulator with boto3 and returns its real id and outputs. The Pulumi SDK
resolves the dependency graph itself: a resource is registered only once the outputs it
needs exist, so creation follows dependencies with no ordering code here. Resources that
the program no longer declares, and the old halves of replacements, are deleted after the
run in reverse registration order (a reverse topological order).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.sandbox.handlers import HANDLERS
from infra.sandbox.handlers.base import Context, Handler, HandlerError, not_found
from infra.sandbox.state import ResourceRecord, SandboxState, StateStore

log = logging.getLogger(__name__)


class UnsupportedResourceError(ValueError):
    """The program declares resource types the sandbox cannot create."""

    def __init__(self, types: list[str]) -> None:
        self.types = types
        super().__init__(
            "the sandbox cannot create these resource types: "
            + ", ".join(types)
            + ". Nothing was created. Fix: deploy with --engine pulumi against LocalStack, "
            "or add a handler in infra/sandbox/handlers/."
        )


class DeployError(RuntimeError):
    """A resource could not be created, updated or deleted in the emulator."""


@dataclass
class Change:
    action: str  # create, update, replace, delete, same
    urn: str
    type: str
    name: str


@dataclass
class DeployReport:
    changes: list[Change] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def changed(self) -> bool:
        return any(c.action != "same" for c in self.changes)

    def summary(self) -> str:
        parts = [f"{self.count(a)} {a}d" for a in ("create", "update", "replace", "delete")]
        return ", ".join(parts) + f", {self.count('same')} unchanged"


def _normal(value: Any) -> Any:
    """Inputs as JSON would keep them, so recorded and fresh inputs compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class SandboxMocks:
    """The Mocks the SDK calls; each call becomes emulator API calls and a state write."""

    def __init__(
        self,
        *,
        store: StateStore,
        previous: SandboxState,
        client: Callable[[str], Any],
        region: str,
        account_id: str,
        handlers: Mapping[str, Handler] = HANDLERS,
    ) -> None:
        self.store = store
        self.previous = previous
        self.client = client
        self.region = region
        self.account_id = account_id
        self.handlers = handlers
        self.state = SandboxState(
            stack=previous.stack,
            emulator_url=previous.emulator_url,
            external_url=previous.external_url,
        )
        # Until the run ends, what it has not re-declared stays in the state file, so an
        # interrupted run still lets `down` find everything.
        self.state.resources = {urn: r for urn, r in previous.resources.items()}
        self.seen: set[str] = set()
        self.deferred: list[ResourceRecord] = []
        self.report = DeployReport()
        self._order = max((r.order for r in previous.resources.values()), default=0)
        self._lock = threading.Lock()
        self._monitor: Any = None

    def attach(self, monitor: Any) -> None:
        self._monitor = monitor

    # ------------------------------------------------------------------ Mocks protocol
    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        request = self._monitor.current.request
        urn = self._monitor.current.urn
        inputs = _normal(dict(args.inputs))
        record = ResourceRecord(
            urn=urn,
            type=args.typ,
            name=args.name,
            custom=bool(args.custom),
            inputs=inputs,
            dependencies=list(dict.fromkeys(request.dependencies)),
            parent=request.parent or None,
            order=self._next_order(),
        )
        with self._lock:
            self.seen.add(urn)
        if not record.custom:
            record.status = "ready"
            self._put(record)
            return "", inputs
        handler = self.handlers[args.typ]
        ctx = Context(self.client, self.region, self.account_id, urn, args.name)
        prev = self.previous.resources.get(urn)
        try:
            return self._apply(handler, ctx, record, prev)
        except HandlerError:
            raise
        except Exception as exc:
            raise HandlerError(f"{args.typ} {args.name!r}: {exc}") from exc

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:root",
                "userId": self.account_id,
                "id": self.account_id,
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = self.client("ec2").describe_availability_zones()["AvailabilityZones"]
            return {
                "names": [z["ZoneName"] for z in zones],
                "zoneIds": [z["ZoneId"] for z in zones],
                "id": self.region,
            }, []
        raise DeployError(f"the sandbox does not answer the invoke {token}")

    def register_transform(self, transform: Any) -> None:
        return None

    def register_invoke_transform(self, transform: Any) -> None:
        return None

    # ------------------------------------------------------------------ decisions
    def _apply(
        self, handler: Handler, ctx: Context, record: ResourceRecord, prev: ResourceRecord | None
    ) -> tuple[str, dict[str, Any]]:
        if prev is not None and prev.status == "ready" and prev.type == record.type:
            if prev.inputs == record.inputs:
                record.id, record.outputs, record.status = prev.id, prev.outputs, "ready"
                self._put(record)
                self._note("same", record)
                return prev.id, {**record.inputs, **prev.outputs}
            if not handler.needs_replace(prev.inputs, record.inputs):
                outputs = handler.update(ctx, prev.id, prev.inputs, record.inputs, prev.outputs)
                record.id, record.outputs, record.status = prev.id, outputs, "ready"
                self._put(record)
                self._note("update", record)
                return prev.id, {**record.inputs, **outputs}
            if _same_name(handler, prev.inputs, record.inputs):
                # Same physical name: the old one must go first (deleteBeforeReplace).
                self._delete(handler, ctx, prev)
            else:
                self.deferred.append(prev)  # create-before-delete, as Pulumi does
            return self._create(handler, ctx, record, action="replace")
        if prev is not None and prev.status != "ready":
            # An earlier run stopped mid-way through this resource: clear what it left.
            self._delete(handler, ctx, prev, quiet=True)
        return self._create(handler, ctx, record, action="create")

    def _create(
        self, handler: Handler, ctx: Context, record: ResourceRecord, *, action: str
    ) -> tuple[str, dict[str, Any]]:
        record.status = "pending"
        self._put(record)  # recorded before the call: an interruption leaves a trace
        rid, outputs = handler.create(ctx, record.inputs)
        record.id, record.outputs, record.status = rid, _normal(outputs), "ready"
        self._put(record)
        self._note(action, record)
        return rid, {**record.inputs, **record.outputs}

    def _delete(
        self, handler: Handler, ctx: Context, record: ResourceRecord, *, quiet: bool = False
    ) -> None:
        rid = record.id or _orphan(handler, ctx, record)
        if not rid:
            if not quiet:
                log.warning("no id recorded for %s; nothing to delete", record.urn)
            return
        try:
            handler.delete(ctx, rid, {**record.inputs, **record.outputs})
        except Exception as exc:
            if not_found(exc):
                return
            if quiet:
                log.warning("cleaning up %s failed: %s", record.urn, exc)
                return
            raise HandlerError(f"deleting {record.type} {record.name!r}: {exc}") from exc

    # ------------------------------------------------------------------ after the run
    def finish(self, outputs: Mapping[str, Any]) -> DeployReport:
        """Delete what the program dropped and the replaced halves; save the final state."""
        gone = [r for urn, r in self.previous.resources.items() if urn not in self.seen]
        for record in sorted([*gone, *self.deferred], key=lambda r: r.order, reverse=True):
            if record.custom:
                handler = self.handlers.get(record.type)
                if handler is None:
                    raise DeployError(f"no handler to delete {record.type} {record.name!r}")
                ctx = Context(self.client, self.region, self.account_id, record.urn, record.name)
                self._delete(handler, ctx, record)
            if record.urn not in self.seen:
                with self._lock:
                    self.state.resources.pop(record.urn, None)
                self._note("delete", record)
                self.store.save(self.state)
            else:
                self._note("delete", record)
        self.state.outputs = _normal(dict(outputs))
        self.store.save(self.state)
        return self.report

    # ------------------------------------------------------------------ bookkeeping
    def _next_order(self) -> int:
        with self._lock:
            self._order += 1
            return self._order

    def _put(self, record: ResourceRecord) -> None:
        with self._lock:
            self.state.resources[record.urn] = record
        self.store.save(self.state)

    def _note(self, action: str, record: ResourceRecord) -> None:
        with self._lock:
            self.report.changes.append(Change(action, record.urn, record.type, record.name))


def _same_name(handler: Handler, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a replacement keeps the physical name (so both cannot exist at once)."""
    return any(
        isinstance(new.get(key), str) and new.get(key) and new.get(key) == old.get(key)
        for key in handler.name_keys
    )


def _orphan(handler: Handler, ctx: Context, record: ResourceRecord) -> str | None:
    """For a record left `pending` by an interrupted run: what its create may have made."""
    if record.status != "pending":
        return None
    try:
        return handler.find_orphan(ctx, record.inputs)
    except Exception as exc:  # looking is best effort; the emulator may lack list APIs
        log.warning("looking for what %s left behind failed: %s", record.urn, exc)
        return None


def destroy(
    state: SandboxState,
    store: StateStore,
    *,
    client: Callable[[str], Any],
    region: str,
    account_id: str,
    handlers: Mapping[str, Handler] = HANDLERS,
) -> DeployReport:
    """Delete every recorded resource, dependents first; the state empties as it goes."""
    report = DeployReport()
    for record in sorted(state.resources.values(), key=lambda r: r.order, reverse=True):
        handler = handlers.get(record.type) if record.custom else None
        if record.custom and handler is None:
            raise DeployError(f"no handler to delete {record.type} {record.name!r}")
        ctx = Context(client, region, account_id, record.urn, record.name)
        rid = (record.id or _orphan(handler, ctx, record)) if handler else None
        if handler is not None and rid:
            try:
                handler.delete(ctx, rid, {**record.inputs, **record.outputs})
            except Exception as exc:
                if not not_found(exc):
                    store.save(state)
                    raise DeployError(
                        f"deleting {record.type} {record.name!r} failed: {exc}. "
                        "The state keeps it; run `mlops sandbox down` again."
                    ) from exc
        state.resources.pop(record.urn)
        report.changes.append(Change("delete", record.urn, record.type, record.name))
        store.save(state)
    state.outputs = {}
    store.save(state)
    return report
