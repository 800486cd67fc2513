"""The whole schema: every domain package's models registered on one metadata, and migrations."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData

from directory.db import Base

DOMAIN_PACKAGES = ("directory", "ingestion", "qualification", "redemption", "maps")
ROOT = Path(__file__).resolve().parent.parent


def optional_module(name: str) -> Any:
    """Import a package's role module (`web`, `cli`, `api`, `models`), or None if it has none."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def metadata() -> MetaData:
    for package in DOMAIN_PACKAGES:
        optional_module(f"{package}.models")
    return Base.metadata


def version_locations() -> list[str]:
    return [
        str(ROOT / package / "migrations")
        for package in DOMAIN_PACKAGES
        if (ROOT / package / "migrations").is_dir()
    ]


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("version_locations", " ".join(version_locations()))
    config.set_main_option("path_separator", "space")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | None = None, connection: Connection | None = None) -> None:
    """Apply every branch's migrations up to its head."""
    command.upgrade(alembic_config(url, connection), "heads")
