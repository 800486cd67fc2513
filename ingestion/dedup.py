"""Duplicates across sources: a deterministic match score and the rule that merges records.

Candidates share the INSEE code and come from different sources. The score weighs the distance
between the points, the fuzzy similarity of the names and of the addresses (rapidfuzz); a pair
at or above MERGE_THRESHOLD, no farther apart than MAX_DISTANCE_M, is the same venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from directory.api import normalize_name
from directory.geodesy import haversine_m
from ingestion.standard import RECORD_FLAG_FIELDS, RECORD_LIST_FIELDS, RECORD_TEXT_FIELDS

MERGE_THRESHOLD = 0.80
MAX_DISTANCE_M = 1_000
# Within this distance two points count as the same place.
SAME_PLACE_M = 50
WEIGHTS = {"distance": 0.3, "name": 0.4, "address": 0.3}
MERGED_FIELDS = (*RECORD_TEXT_FIELDS, *RECORD_LIST_FIELDS, *RECORD_FLAG_FIELDS, "location")


@dataclass(frozen=True)
class MatchScore:
    total: float
    name: float
    address: float
    distance_m: float | None

    def describe(self) -> str:
        distance = "distance inconnue" if self.distance_m is None else f"distance {self.distance_m:.0f} m"
        return f"score {self.total:.2f} ({distance}, nom {self.name:.2f}, adresse {self.address:.2f})"


def match_score(a: dict[str, Any], b: dict[str, Any]) -> MatchScore:
    """How likely two records (nom, adresse, latitude, longitude) describe the same venue."""
    name = fuzz.token_set_ratio(normalize_name(a["nom"] or ""), normalize_name(b["nom"] or "")) / 100
    address = fuzz.token_set_ratio(normalize_name(a["adresse"] or ""), normalize_name(b["adresse"] or "")) / 100
    distance = None
    weights = dict(WEIGHTS)
    if None not in (a.get("longitude"), a.get("latitude"), b.get("longitude"), b.get("latitude")):
        distance = haversine_m(a["longitude"], a["latitude"], b["longitude"], b["latitude"])
        closeness = 1.0 if distance <= SAME_PLACE_M else max(0.0, 1 - (distance - SAME_PLACE_M) / (MAX_DISTANCE_M - SAME_PLACE_M))
    else:
        closeness = 0.0
        weights.pop("distance")
    parts = {"distance": closeness, "name": name, "address": address}
    total = sum(parts[key] * weight for key, weight in weights.items()) / sum(weights.values())
    return MatchScore(total=round(total, 4), name=round(name, 4), address=round(address, 4),
                      distance_m=None if distance is None else round(distance, 1))


def best_duplicate(record: dict[str, Any], candidates: list[tuple[int, dict[str, Any]]]) -> tuple[int, MatchScore] | None:
    """The candidate venue (id, fields) this record duplicates, or None; ties go to the lowest id."""
    best: tuple[int, MatchScore] | None = None
    for venue_id, fields in sorted(candidates, key=lambda item: item[0]):
        score = match_score(record, fields)
        if score.total < MERGE_THRESHOLD or (score.distance_m is not None and score.distance_m > MAX_DISTANCE_M):
            continue
        if best is None or score.total > best[1].total:
            best = (venue_id, score)
    return best


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def completeness(record: dict[str, Any]) -> int:
    return sum(not _empty(record.get(name)) for name in MERGED_FIELDS if name != "location") + (
        record.get("latitude") is not None
    )


def merged_fields(records: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """One value per field from the records (venue-source id, fields) of a venue.

    Per field, the non-empty value of the record with the most recent date_maj wins; on a tie,
    the most complete record; then the oldest source link. Unknown dates rank last.
    """
    ranked = sorted(
        records,
        key=lambda item: (-_date_rank(item[1].get("date_maj")), -completeness(item[1]), item[0]),
    )
    merged: dict[str, Any] = {}
    for name in MERGED_FIELDS:
        if name == "location":
            winner = next((r for _, r in ranked if r.get("latitude") is not None), None)
            merged["latitude"] = winner["latitude"] if winner else None
            merged["longitude"] = winner["longitude"] if winner else None
            merged["geocoding_score"] = winner.get("geocoding_score") if winner else None
            continue
        winner = next((r for _, r in ranked if not _empty(r.get(name))), None)
        merged[name] = winner[name] if winner else ([] if name in RECORD_LIST_FIELDS else False if name in RECORD_FLAG_FIELDS else None)
    return merged


def _date_rank(value: str | None) -> int:
    return int(value.replace("-", "")) if value else 0
