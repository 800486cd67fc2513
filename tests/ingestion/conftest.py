"""Fixtures of the ingestion tests; `ban_server` is meant for other packages' tests too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ban_server import BanServer


@pytest.fixture
def ban() -> Iterator[BanServer]:
    """The local address API itself, to add addresses or inspect the requests it received."""
    with BanServer() as server:
        yield server


@pytest.fixture
def ban_server(ban: BanServer) -> str:
    """Base URL of a local server answering like the BAN (`/search/` and `/search/csv/`)."""
    return ban.url
