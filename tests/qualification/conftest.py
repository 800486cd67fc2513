"""Fixtures of the qualification tests; their builders (organisations, sites, applications) are in tests.builders."""

from __future__ import annotations

import pytest


@pytest.fixture
def storage(tmp_path):
    return tmp_path / "uploads"
