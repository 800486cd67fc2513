"""Import every shared real file into a fresh SpatiaLite database and print the per-file table.

Run: PYTHONPATH=$PWD python bench/shared_imports.py [../shared/data]
Prints, per file: rows, created, merged, rejected, warnings, then warnings grouped by field.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from aptic import schema
from directory import api
from directory.db import make_engine
from ingestion.api import import_venues, load_territories
from tests.ingestion.test_shared_data import FILES



def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data")
    from tests.builders import ACTOR as actor
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        with engine.begin() as connection:
            schema.upgrade(connection=connection)
        with Session(engine) as session:
            load_territories(session)
            api.load_referential(session)
            print("| source | rows | created | merged | rejected | warnings |")
            print("|---|---|---|---|---|---|")
            by_field: dict[str, collections.Counter] = {}
            for source, relative, *_ in FILES:
                start = time.perf_counter()
                summary = import_venues(session, actor, [shared / "mediation" / relative], source=source, geocode=False)
                counts = summary.counts
                print(f"| {source} | {summary.files[0].rows} | {counts['created']} | {counts['merged']} | "
                      f"{counts['rejected']} | {summary.warnings} |  ({time.perf_counter() - start:.1f} s)")
                by_field[source] = collections.Counter(
                    line["champ"] for line in summary.report if line["niveau"] == "avertissement")
            for source, counter in by_field.items():
                print(source, dict(counter.most_common()))
            session.rollback()


if __name__ == "__main__":
    main()
