"""Resource handlers by type token: what the sandbox deployer can create in the emulator.

Every module in this package exposes `HANDLERS: list[Handler]`; they are collected here,
and a type token claimed twice is an error at import.
"""

from __future__ import annotations

import importlib
import pkgutil

from infra.sandbox.handlers.base import Handler


def _collect() -> dict[str, Handler]:
    found: dict[str, Handler] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for handler in getattr(module, "HANDLERS", []):
            if handler.type_token in found:
                raise RuntimeError(f"two handlers claim {handler.type_token}")
            found[handler.type_token] = handler
    return found


HANDLERS: dict[str, Handler] = _collect()


def supported_types() -> list[str]:
    return sorted(HANDLERS)
