"""Import a generated national-scale file (v1.0.1 CSV) without geocoding, on both backends.

    .venv/bin/python bench/ingestion_import.py [--rows 20000] [--postgres postgresql+psycopg://root@127.0.0.1:5432/postgres]

Each venue gets a real commune (its INSEE code, postcode and centre point, slightly moved),
so the run exercises validation, INSEE checks, duplicate candidates and the bulk writes.
Prints rows per second for the first import and for a re-import of the same file (all unchanged),
and the CPU time of this process (SQLite works in-process; PostgreSQL's own CPU is not counted),
which says more than wall time on a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support import POSTGRES_ADMIN_URL, prepare_database, throwaway_database

from directory import api
from directory.models import Territory, TerritoryLevel, TerritoryPostcode
from ingestion import standard
from ingestion.api import import_venues

SERVICES = standard.allowed_values(standard.V1, "services")
STREETS = ("rue de la République", "avenue Jean Jaurès", "place de la Mairie", "rue Victor Hugo", "chemin des Écoles")
KINDS = ("Médiathèque", "Espace public numérique", "Centre social", "France Services", "Tiers-lieu")


def generate(session: Session, path: Path, rows: int) -> None:
    communes = session.execute(
        select(Territory.code, Territory.name, func.min(TerritoryPostcode.postcode),
               func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .join(TerritoryPostcode, TerritoryPostcode.commune_id == Territory.id)
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.centre.is_not(None))
        .group_by(Territory.code, Territory.name, Territory.centre)
    ).all()
    rng = random.Random(2026)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=standard.field_names(standard.V1))
        writer.writeheader()
        for n in range(rows):
            code, name, postcode, lon, lat = rng.choice(communes)
            writer.writerow({
                "id": f"lieu-{n}", "pivot": "00000000000000", "nom": f"{rng.choice(KINDS)} {name} {n}",
                "commune": name, "code_postal": postcode, "code_insee": code,
                "adresse": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
                "latitude": round(lat + rng.uniform(-0.003, 0.003), 6),
                "longitude": round(lon + rng.uniform(-0.003, 0.003), 6),
                "telephone": f"+33{rng.randint(100000000, 599999999)}",
                "courriels": f"contact{n}@exemple.fr", "horaires": "Mo-Fr 09:00-12:00,14:00-17:30",
                "date_maj": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "services": "|".join(rng.sample(SERVICES, rng.randint(1, 4))),
                "frais_a_charge": "Gratuit", "modalites_accompagnement": "Accompagnement individuel",
            })


def run(url: str, rows: int, workdir: Path) -> None:
    engine = prepare_database(url)
    with Session(engine) as session:
        path = workdir / "national.csv"
        generate(session, path, rows)
    actor = api.Actor.system("bench")
    for label in ("first import", "re-import"):
        with Session(engine) as session:
            started, cpu_started = time.perf_counter(), time.process_time()
            summary = import_venues(session, actor, [path], source="national", geocode=False)
            session.commit()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(f"{engine.name} {label}: {rows} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
              f"(this process's CPU: {cpu:.1f} s) — {summary.counts}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for backend in ("spatialite", "postgis"):
            with throwaway_database(backend, args.postgres) as url:
                run(url, args.rows, Path(workdir))


if __name__ == "__main__":
    main()
