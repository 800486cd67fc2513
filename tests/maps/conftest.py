"""Fixtures of the public cartography tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ban_server import BanServer


@pytest.fixture
def geocoder(app) -> Iterator[BanServer]:
    """The app's address API is a local BAN-like server (no internet in tests)."""
    with BanServer() as server:
        app.config["GEOCODER_URL"] = server.url
        yield server
