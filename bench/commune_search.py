"""Speed of the forgiving commune search (index build, exact names, prefixes, typos, homonyms, suggestions).

    .venv/bin/python bench/commune_search.py [--backend spatialite|postgis] [--rounds 200]

Builds a throwaway database with the shipped territories, then times `directory.api.find_commune`
and `suggest_communes` over typed queries of each kind and prints p50/p95.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy.orm import Session
from support import prepare_database, throwaway_database

from directory import api

QUERIES = {
    "exact": ["Lyon", "Quimper", "Saint-Étienne", "Bordeaux", "Ajaccio"],
    "no accents / hyphens": ["saint etienne", "chalons en champagne", "besancon", "ile d yeu", "aix en provence"],
    "typos": ["quimpr", "marseile", "bordaux", "strasbour", "montpelier"],
    "postcode + name, arrondissements": ["Marseille 13001", "Paris 15e", "lyon 3eme", "Saint-Denis (93)", "29000"],
    "homonyms": ["Saint-Denis", "Sainte-Colombe", "Villeneuve"],
}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms"


def bench(backend: str, rounds: int) -> None:
    with throwaway_database(backend) as url:
        engine = prepare_database(url)
        with Session(engine) as session:
            started = time.perf_counter()
            api.suggest_communes(session, "Lyon")
            print(f"[{backend}] index of the communes built in {time.perf_counter() - started:.2f} s")
            for kind, queries in QUERIES.items():
                samples = []
                for _ in range(rounds):
                    for query in queries:
                        began = time.perf_counter()
                        try:
                            api.find_commune(session, query)
                        except api.AmbiguousPlace:
                            pass
                        samples.append(time.perf_counter() - began)
                print(f"[{backend}] find_commune, {kind:34} {percentiles(samples)}")
            samples = []
            for _ in range(rounds):
                for prefix in ("qui", "quimp", "saint-d", "mars", "1 place"):
                    began = time.perf_counter()
                    api.suggest_communes(session, prefix, limit=5)
                    samples.append(time.perf_counter() - began)
            print(f"[{backend}] suggest_communes (autocomplete)          {percentiles(samples)}")
        engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["spatialite", "postgis"], action="append")
    parser.add_argument("--rounds", type=int, default=100)
    arguments = parser.parse_args()
    for name in arguments.backend or ["spatialite", "postgis"]:
        bench(name, arguments.rounds)
