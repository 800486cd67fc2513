"""Fixtures of the public cartography tests."""

from __future__ import annotations

import pytest

from tests.ban_server import BanServer


@pytest.fixture
def geocoder(app, ban: BanServer) -> BanServer:
    """The app's address API is a local BAN-like server (no internet in tests)."""
    app.config["GEOCODER_URL"] = ban.url
    return ban
