"""Time the embedded demo build and report the database size.

    .venv/bin/python bench/demo_build.py [--venues 3000] [--url postgresql+psycopg://…]

Prints one line per step (migrations, territories, referential and demo data) and the size of
the SpatiaLite file; with --url, runs against that (empty) database instead.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import throwaway_database

from aptic import create_app, schema
from aptic.demo import build_demo
from directory.db import make_engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=3_000)
    parser.add_argument("--url")
    args = parser.parse_args()
    with nullcontext(args.url) if args.url else throwaway_database("spatialite") as url:
        engine = make_engine(url)
        tracemalloc.start()
        started = time.perf_counter()
        with engine.begin() as connection:
            schema.upgrade(connection=connection)
        migrated = time.perf_counter()
        # The demo's seeds read the app configuration (upload folder of the qualification files).
        with tempfile.TemporaryDirectory() as uploads, create_app(
            {"DATABASE_URL": url, "QUALIFICATION_UPLOAD_DIR": uploads}
        ).app_context(), Session(engine) as session:
            result = build_demo(session, args.venues, echo=lambda _line: None)
            session.commit()
        built = time.perf_counter()
        peak = tracemalloc.get_traced_memory()[1]
        engine.dispose()
        print(f"backend: {engine.name}")
        print(f"migrations: {migrated - started:.2f} s")
        print(f"territories + referential + {args.venues} venues + accounts: {built - migrated:.2f} s")
        print(f"total: {built - started:.2f} s, peak Python memory {peak / 1e6:.0f} MB")
        if not args.url:
            print(f"database size: {Path(make_url(url).database).stat().st_size / 1e6:.1f} MB")
        assert result["created"]


if __name__ == "__main__":
    main()
