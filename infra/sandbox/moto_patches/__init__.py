"""Gap fills for moto's server, installed into its classes when the emulator starts.

Only `infra.sandbox.moto_app` calls `install()`: the patches change moto's classes for the
whole process, so importing this package must not do it (a test process that uses moto
in-process would otherwise behave differently depending on import order). Each module of
this package is one service's fills and exposes `install() -> list[str]`.
"""

from __future__ import annotations

import importlib
import pkgutil

_installed: list[str] = []


def install() -> list[str]:
    """Install every gap fill once; return the names of the patched operations."""
    if not _installed:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            module = importlib.import_module(f"{__name__}.{info.name}")
            _installed.extend(module.install())
    return list(_installed)


__all__ = ["install"]
