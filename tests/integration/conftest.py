"""Integration tests run against the real embedded platform; the session starts whatever is not
running yet (`flightdelay up` is idempotent), so a single test file can be run on its own."""

from __future__ import annotations

import pytest

from flightdelay.embedded import platform
from flightdelay.settings import Settings, get_settings


@pytest.fixture(scope="session", autouse=True)
def running_platform() -> None:
    platform.up(log=lambda line: None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()
