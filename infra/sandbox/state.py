"""Sandbox state: what the deployer made, written atomically after every operation.

`.mlops/sandbox/<stack>/state.json` lists each resource with its URN, type, physical id,
the inputs it was created from, its outputs, its dependencies and a status. A resource is
recorded as `pending` *before* the emulator is called and as `ready` after, so an `up`
killed half way leaves a record the next `up` finishes and `down` removes. A lock file
keeps two runs on one stack from interleaving.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

STATE_VERSION = 1
Status = Literal["pending", "ready", "deleting"]


class StateError(RuntimeError):
    """The state directory is locked by another run, or its file is unreadable."""


@dataclass
class ResourceRecord:
    urn: str
    type: str
    name: str
    custom: bool
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    parent: str | None = None
    status: Status = "pending"
    order: int = 0  # registration order: a topological order of the dependency graph


@dataclass
class SandboxState:
    stack: str
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    emulator_url: str = ""
    external_url: str = ""  # set when the emulator is not ours to start and stop
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "stack": self.stack,
            "emulator_url": self.emulator_url,
            "external_url": self.external_url,
            "updated_at": self.updated_at,
            "outputs": self.outputs,
            "resources": [asdict(r) for r in self.ordered()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxState:
        if data.get("version") != STATE_VERSION:
            raise StateError(
                f"state version {data.get('version')!r} is not {STATE_VERSION}; "
                "remove the state directory after `mlops sandbox down` with the old version"
            )
        state = cls(
            stack=data["stack"],
            outputs=data.get("outputs", {}),
            emulator_url=data.get("emulator_url", ""),
            external_url=data.get("external_url", ""),
            updated_at=data.get("updated_at", 0.0),
        )
        for item in data.get("resources", []):
            record = ResourceRecord(**item)
            state.resources[record.urn] = record
        return state

    def ordered(self) -> list[ResourceRecord]:
        return sorted(self.resources.values(), key=lambda r: r.order)


class StateStore:
    """Reads and atomically writes one stack's state; thread-safe within a run."""

    def __init__(self, directory: Path, stack: str) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        self.stack = stack
        self._mutex = threading.Lock()

    def load(self) -> SandboxState:
        if not self.path.is_file():
            return SandboxState(stack=self.stack)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StateError(f"{self.path}: unreadable sandbox state ({exc})") from exc
        return SandboxState.from_json(data)

    def save(self, state: SandboxState) -> None:
        with self._mutex:
            state.updated_at = time.time()
            self.directory.mkdir(parents=True, exist_ok=True)
            text = json.dumps(state.to_json(), indent=2, sort_keys=True, default=str)
            # Write a temp file in the same directory, then rename: readers never see half.
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)

    @contextmanager
    def locked(self, *, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the stack's lock; a second run fails fast naming the holder."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory / "lock"
        with open(lock_path, "a+", encoding="utf-8") as handle:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "another process"
                        raise StateError(
                            f"stack {self.stack!r} is locked by {holder} ({lock_path}); "
                            "wait for it to finish, or remove the lock file if that "
                            "process is gone"
                        ) from None
                    time.sleep(0.1)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
