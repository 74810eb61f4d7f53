"""Ephemeral sandbox stacks: the embedded AWS emulator and what deploys into it.

`emulator` starts, finds and stops the emulator (a detached moto server, or an external
LocalStack/moto); `moto_app` is that server's entry point and `moto_patches` the gap fills
it installs into moto.
"""

from infra.sandbox.emulator import Emulator, EmulatorError

__all__ = ["Emulator", "EmulatorError"]
