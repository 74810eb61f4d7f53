"""Resource handlers by type token: what the sandbox deployer can create in the emulator."""

from __future__ import annotations

from infra.sandbox.handlers import s3
from infra.sandbox.handlers.base import Handler

_MODULES = (s3,)

HANDLERS: dict[str, Handler] = {
    handler.type_token: handler for module in _MODULES for handler in module.HANDLERS
}


def supported_types() -> list[str]:
    return sorted(HANDLERS)
