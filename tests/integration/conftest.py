"""Integration fixtures: one embedded emulator (moto's server on loopback) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.sandbox.emulator import Emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A moto server started once per session (per xdist worker) and stopped at the end."""
    running = Emulator.start(state_dir=tmp_path_factory.mktemp("emulator"))
    yield running
    running.stop()


@pytest.fixture
def clean_emulator(emulator: Emulator) -> Emulator:
    """The session's emulator, emptied of every resource before the test."""
    emulator.reset()
    return emulator
