"""Import every shared real file, publish them all as open data and print the validation figures.

Run: PYTHONPATH=$PWD python bench/publication_check.py [../shared/data] [output folder]
Every venue is marked qualified and published first (the shared files carry no qualification).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from aptic import schema
from directory import api
from directory.db import make_engine
from directory.models import Venue, VenueStatus
from ingestion import open_formats
from ingestion.api import import_venues, load_territories
from ingestion.publication import PublicationInvalid, publish
from tests.builders import ACTOR
from tests.ingestion.test_shared_data import FILES


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "shared" / "data"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(folder) / "publication"
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        with engine.begin() as connection:
            schema.upgrade(connection=connection)
        with Session(engine) as session:
            load_territories(session)
            api.load_referential(session)
            for source, relative, *_ in FILES:
                import_venues(session, ACTOR, [shared / "mediation" / relative], source=source, geocode=False)
            session.execute(update(Venue).values(status=VenueStatus.QUALIFIED, published=True))
            started = time.perf_counter()
            try:
                done = publish(session, out)
            except PublicationInvalid as error:
                print(error.message)
                return
            print(f"{done.summary_line()} ({time.perf_counter() - started:.1f} s)")
            for item in done.metadata["fichiers"]:
                print(f"  {item['fichier']}: {item['elements']} éléments, {item['octets']} octets")
            print("  dates inconnues (date_maj = premier jour vu) :", done.metadata["nombres"]["dates_inconnues"])
            print("  valeurs écartées des fichiers data·inclusion :", done.metadata["data_inclusion_valeurs_ecartees"])
            print("  erreurs v1.0.1 :", len(open_formats.v1_errors(done.metadata and __import__("json").loads(
                (out / "lieux-mediation-numerique.json").read_text(encoding="utf-8")))))
            session.rollback()


if __name__ == "__main__":
    main()
