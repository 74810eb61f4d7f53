"""Gap fills for moto's server, installed into its classes when the emulator starts.

Only `infra.sandbox.moto_app` calls `install()`: the patches change moto's classes for the
whole process, so importing this package must not do it (a test process that uses moto
in-process would otherwise behave differently depending on import order).
"""

from __future__ import annotations

from infra.sandbox.moto_patches import sagemaker

_installed: list[str] = []


def install() -> list[str]:
    """Install every gap fill once; return the names of the patched operations."""
    if not _installed:
        _installed.extend(sagemaker.install())
    return list(_installed)


__all__ = ["install"]
