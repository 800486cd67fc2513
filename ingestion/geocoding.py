"""Client of the national address API (BAN) and any addok server, with a persistent cache.

One address at a time through `/search/`, many through the CSV batch endpoint `/search/csv/`.
Both paths share the cache table, keyed by the normalised address and the INSEE filter.
`geocoder()` is the client of the running app; `geocode_one` answers an address typed by a user.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import normalize_name
from directory.db import insert_ignoring_duplicates
from ingestion.errors import GeocoderUnavailable
from ingestion.models import GeocodeCache

BAN_URL = "https://api-adresse.data.gouv.fr"  # same default as aptic.config (the shell)
ACCEPT_SCORE = 0.5
REVIEW_SCORE = 0.7
TIMEOUT_SECONDS = 20
# A person waits on the answer: a geocoder slower than this is treated as unreachable.
INTERACTIVE_TIMEOUT_SECONDS = 4
BATCH_SIZE = 500
USER_AGENT = "APTIC-plateforme (+https://aptic.fr)"


@dataclass(frozen=True)
class GeocodeResult:
    lat: float
    lon: float
    score: float
    label: str
    citycode: str | None

    @property
    def needs_review(self) -> bool:
        return self.score < REVIEW_SCORE


@dataclass(frozen=True)
class AddressSuggestion:
    """One answer of the address autocomplete: a label to show, its point, what it is (housenumber, street…)."""

    label: str
    lon: float
    lat: float
    score: float
    kind: str
    citycode: str | None = None
    postcode: str | None = None
    city: str | None = None


def cache_key(address: str, citycode: str | None) -> str:
    return hashlib.sha256(f"{normalize_name(address)}|{citycode or ''}".encode()).hexdigest()


class Geocoder:
    def __init__(self, base_url: str, *, timeout: float = TIMEOUT_SECONDS, batch_size: int = BATCH_SIZE) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.batch_size = batch_size

    # ------------------------------------------------------------------ public

    def search(self, session: Session, address: str, citycode: str | None = None) -> GeocodeResult | None:
        """The best match for one address, whatever its score (cached)."""
        key = cache_key(address, citycode)
        cached = session.get(GeocodeCache, key)
        if cached is None:
            params = {"q": address, "limit": 1}
            if citycode:
                params["citycode"] = citycode
            payload = json.loads(self._request(f"{self.base_url}/search/?{urlencode(params)}"))
            features = payload.get("features") or []
            entry = {"key": key, "query": normalize_name(address)[:500], "citycode_filter": citycode}
            if features:
                feature = features[0]
                lon, lat = feature["geometry"]["coordinates"][:2]
                props = feature.get("properties", {})
                entry.update(latitude=float(lat), longitude=float(lon), score=float(props.get("score", 0)),
                             label=str(props.get("label", ""))[:300], citycode=props.get("citycode") or None)
            self._store(session, [entry])
            cached = session.get(GeocodeCache, key)
        return _result(cached)

    def suggest(self, text: str, limit: int = 5) -> list[AddressSuggestion]:
        """Addresses a partly typed text may mean, best first (addok's autocomplete), never cached here:
        the caller keeps its own short-lived cache. Raises GeocoderUnavailable."""
        query = {"q": text, "limit": limit, "autocomplete": 1}
        payload = json.loads(self._request(f"{self.base_url}/search/?{urlencode(query)}"))
        found = []
        for feature in payload.get("features") or []:
            try:
                lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
            except (KeyError, TypeError, ValueError):
                continue
            props = feature.get("properties") or {}
            found.append(AddressSuggestion(
                label=str(props.get("label", ""))[:300], lon=lon, lat=lat, score=float(props.get("score") or 0),
                kind=str(props.get("type") or ""), citycode=props.get("citycode") or None,
                postcode=props.get("postcode") or None, city=props.get("city") or None,
            ))
        return found

    def search_many(
        self, session: Session, queries: Iterable[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], GeocodeResult | None]:
        """Best matches for many (address, INSEE filter) pairs: cache first, then CSV batches."""
        wanted = {(address, citycode): cache_key(address, citycode) for address, citycode in queries}
        found: dict[str, GeocodeCache] = {}
        keys = list(set(wanted.values()))
        for start in range(0, len(keys), 900):
            chunk = keys[start : start + 900]
            found.update({row.key: row for row in session.scalars(select(GeocodeCache).where(GeocodeCache.key.in_(chunk)))})
        missing = {key: pair for pair, key in wanted.items() if key not in found}
        pending = list(missing.items())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            entries = self._batch(batch)
            self._store(session, entries)
            found.update({row.key: row for row in session.scalars(
                select(GeocodeCache).where(GeocodeCache.key.in_([key for key, _ in batch]))
            )})
        return {pair: _result(found.get(key)) for pair, key in wanted.items()}

    # ----------------------------------------------------------------- helpers

    def _batch(self, batch: list[tuple[str, tuple[str, str | None]]]) -> list[dict]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["q_key", "q_address", "q_citycode"])
        for key, (address, citycode) in batch:
            writer.writerow([key, address, citycode or ""])
        boundary = uuid.uuid4().hex
        parts = [
            ("columns", None, b"q_address"),
            ("citycode", None, b"q_citycode"),
            ("result_columns", None, b"result_label"),
            ("result_columns", None, b"result_score"),
            ("result_columns", None, b"result_citycode"),
            ("result_columns", None, b"latitude"),
            ("result_columns", None, b"longitude"),
            ("data", "adresses.csv", buffer.getvalue().encode("utf-8")),
        ]
        body = io.BytesIO()
        for name, filename, content in parts:
            body.write(f"--{boundary}\r\n".encode())
            disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
            body.write(f"Content-Disposition: {disposition}\r\n".encode())
            if filename:
                body.write(b"Content-Type: text/csv\r\n")
            body.write(b"\r\n" + content + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        answer = self._request(
            f"{self.base_url}/search/csv/", body.getvalue(), f"multipart/form-data; boundary={boundary}"
        )
        addresses = dict(batch)
        entries = []
        for row in csv.DictReader(io.StringIO(answer.decode("utf-8-sig"))):
            key = row.get("q_key", "")
            if key not in addresses:
                continue
            address, citycode = addresses[key]
            entry = {"key": key, "query": normalize_name(address)[:500], "citycode_filter": citycode or None}
            if row.get("latitude") and row.get("longitude") and row.get("result_score"):
                entry.update(latitude=float(row["latitude"]), longitude=float(row["longitude"]),
                             score=float(row["result_score"]), label=(row.get("result_label") or "")[:300],
                             citycode=row.get("result_citycode") or None)
            entries.append(entry)
        return entries

    def _request(self, url: str, data: bytes | None = None, content_type: str | None = None) -> bytes:
        headers = {"User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            with urlopen(Request(url, data=data, headers=headers), timeout=self.timeout) as response:
                return response.read()
        except HTTPError as error:
            raise GeocoderUnavailable(
                f"Le service de géocodage ({self.base_url}) a répondu par une erreur {error.code}."
            ) from None
        except (URLError, TimeoutError, socket.timeout, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise GeocoderUnavailable(
                f"Le service de géocodage ({self.base_url}) est injoignable : {reason}."
            ) from None

    @staticmethod
    def _store(session: Session, entries: list[dict]) -> None:
        if not entries:
            return
        columns = ("key", "query", "citycode_filter", "latitude", "longitude", "score", "label", "citycode")
        rows = [{name: entry.get(name) for name in columns} for entry in entries]
        # Two processes may cache the same address at once.
        session.execute(insert_ignoring_duplicates(session, GeocodeCache), rows)


def _result(cached: GeocodeCache | None) -> GeocodeResult | None:
    if cached is None or cached.latitude is None or cached.longitude is None:
        return None
    return GeocodeResult(
        lat=cached.latitude, lon=cached.longitude, score=cached.score or 0.0,
        label=cached.label or "", citycode=cached.citycode,
    )


def suggest_addresses(text: str, limit: int = 5) -> list[AddressSuggestion]:
    """The configured geocoder's suggestions for a partly typed address (GeocoderUnavailable when down)."""
    if len((text or "").strip()) < 3:  # the address API refuses shorter queries
        return []
    return geocoder(INTERACTIVE_TIMEOUT_SECONDS).suggest(text.strip(), limit)


def geocoder(timeout: float = TIMEOUT_SECONDS) -> Geocoder:
    """The address API client for the running app (GEOCODER_URL, from APTIC_GEOCODER_URL)."""
    if has_app_context():
        return Geocoder(current_app.config["GEOCODER_URL"], timeout=timeout)
    return Geocoder(os.environ.get("APTIC_GEOCODER_URL", BAN_URL), timeout=timeout)


def geocode_one(session: Session, address: str, citycode: str | None = None) -> GeocodeResult | None:
    """Coordinates of a typed address (cached), or None when the best match scores under 0.5.

    Raises GeocoderUnavailable (HTTP 503, French message) when the address API cannot be reached.
    """
    if len((address or "").strip()) < 3:  # the address API refuses shorter queries
        return None
    result = geocoder(INTERACTIVE_TIMEOUT_SECONDS).search(session, address.strip(), citycode)
    if result is None or result.score < ACCEPT_SCORE:
        return None
    return result
