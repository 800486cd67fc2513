"""A small pass world: a sponsor, a distributor, venues in and out of the order's territory (`tests.builders.pass_world`)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.builders import World, pass_world


@pytest.fixture
def world(session: Session) -> World:
    return pass_world(session)
