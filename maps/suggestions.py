"""Autocomplete of the search box: communes offline, addresses from the configured geocoder (cached).

The geocoder is asked only when the text looks like an address or names no commune, at most once per
text and geocoder for `CACHE_SECONDS` (a per-process cache, bounded), after `before_geocoding`, where
the web counts the client's allowance. When the geocoder is down the communes are still offered,
with a plain notice.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from directory import api
from ingestion import api as ingestion_api  # maps may read every package (DESIGN.md)
from maps.places import GEOCODER_DOWN, looks_like_address

MIN_LENGTH = 2
MAX_LENGTH = 200
MAX_SUGGESTIONS = 8
COMMUNE_SUGGESTIONS = 5
ADDRESS_SUGGESTIONS = 5
CACHE_SECONDS = 3600
CACHE_ENTRIES = 2048


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "commune" or "adresse"
    label: str  # what the list shows and what the search box receives
    lon: float
    lat: float
    code_insee: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Suggestions:
    query: str
    items: list[Suggestion]
    notice: str | None = None


class _TtlCache:
    """A small thread-safe LRU with an expiry, for the geocoder's answers."""

    def __init__(self, size: int, seconds: float) -> None:
        self.size, self.seconds = size, seconds
        self._items: OrderedDict[tuple[str, str], tuple[float, list[ingestion_api.AddressSuggestion]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> list[ingestion_api.AddressSuggestion] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: tuple[str, str], value: list[ingestion_api.AddressSuggestion]) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.seconds, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


ADDRESS_CACHE = _TtlCache(CACHE_ENTRIES, CACHE_SECONDS)


def place_suggestions(session: Session, query: str, *, geocoder_url: str,
                      before_geocoding: Callable[[], None] | None = None) -> Suggestions:
    """What the search box may mean: communes (with their département) then addresses."""
    text = " ".join((query or "").split())[:MAX_LENGTH]
    if len(text) < MIN_LENGTH:
        return Suggestions(text, [])
    communes = [] if looks_like_address(text) else api.suggest_communes(session, text, limit=COMMUNE_SUGGESTIONS)
    items = [
        Suggestion("commune", c.label, c.lon, c.lat, c.code, " ".join(c.postcodes[:1]) or None)
        for c in communes if c.lon is not None and c.lat is not None
    ]
    notice = None
    if len(text) >= 3 and (looks_like_address(text) or not items):
        key = (geocoder_url, api.normalize_name(text))
        found = ADDRESS_CACHE.get(key)
        if found is None:
            if before_geocoding is not None:
                before_geocoding()
            try:
                found = ingestion_api.suggest_addresses(text, ADDRESS_SUGGESTIONS)
            except ingestion_api.GeocoderUnavailable:
                notice = f"{GEOCODER_DOWN} : seules les communes sont proposées."
                found = []
            else:
                ADDRESS_CACHE.put(key, found)
        items += [
            Suggestion("adresse", s.label, s.lon, s.lat, s.citycode, s.city)
            for s in found if s.label and s.kind != "municipality"
        ]
    return Suggestions(text, items[:MAX_SUGGESTIONS], notice)
