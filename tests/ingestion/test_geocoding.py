"""The BAN client against a real local server speaking the same protocol."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingestion.api import geocode_one
from ingestion.errors import GeocoderUnavailable
from ingestion.geocoding import Geocoder
from ingestion.models import GeocodeCache
from tests.ban_server import BanServer


def test_geocode_one_uses_the_configured_server_and_caches(app: Flask, session: Session, ban: BanServer) -> None:
    app.config["GEOCODER_URL"] = ban.url
    with app.app_context():
        result = geocode_one(session, "20 avenue de Ségur, 75007 Paris")
        again = geocode_one(session, "20 Avenue de SÉGUR 75007 paris")  # same normalised address
    assert result is not None and again == result
    assert (round(result.lat, 4), round(result.lon, 4), result.citycode) == (48.8509, 2.3085, "75107")
    assert ban.requests == [("search", "20 avenue de Ségur, 75007 Paris")]
    assert session.scalar(select(func.count()).select_from(GeocodeCache)) == 1


def test_scores_under_half_are_rejected_and_misses_cached(app: Flask, session: Session, ban: BanServer) -> None:
    ban.add("3 chemin incertain 40000 Mont-de-Marsan", lon=-0.5, lat=43.89, score=0.42, citycode="40192")
    ban.add("5 rue douteuse 40000 Mont-de-Marsan", lon=-0.5, lat=43.89, score=0.61, citycode="40192")
    app.config["GEOCODER_URL"] = ban.url
    with app.app_context():
        assert geocode_one(session, "3 chemin incertain 40000 Mont-de-Marsan") is None
        doubtful = geocode_one(session, "5 rue douteuse 40000 Mont-de-Marsan")
        assert doubtful is not None and doubtful.needs_review
        assert geocode_one(session, "nulle part 99999") is None
        assert geocode_one(session, "nulle part 99999") is None
        assert geocode_one(session, " a ") is None  # too short for the API: not even asked
    assert [kind for kind, _ in ban.requests] == ["search"] * 3


def test_citycode_filters_results(session: Session, ban: BanServer) -> None:
    geocoder = Geocoder(ban.url)
    assert geocoder.search(session, "1 place Bellecour 69002 Lyon", "69382") is not None
    assert geocoder.search(session, "1 place Bellecour 69002 Lyon", "75107") is None


def test_batches_go_through_the_csv_endpoint_once_then_the_cache(session: Session, ban: BanServer) -> None:
    geocoder = Geocoder(ban.url, batch_size=2)
    queries = [
        ("1 place de la Comédie 34000 Montpellier", None),
        ("1 place Bellecour 69002 Lyon", "69382"),
        ("Place du Capitole 31000 Toulouse", None),
        ("adresse inconnue 12000 Rodez", None),
    ]
    results = geocoder.search_many(session, queries)
    assert ban.requests == [("csv", 2), ("csv", 2)]
    assert results[queries[1]].citycode == "69382"
    assert results[queries[3]] is None
    assert geocoder.search_many(session, queries) == results
    assert len(ban.requests) == 2  # second time: all from the cache, misses included


def test_unreachable_or_failing_geocoder_raises_a_french_error(session: Session, ban: BanServer) -> None:
    ban.fail_with = 502
    with pytest.raises(GeocoderUnavailable, match="a répondu par une erreur 502"):
        Geocoder(ban.url).search(session, "1 place Bellecour 69002 Lyon")
    url = ban.url
    ban.stop()
    with pytest.raises(GeocoderUnavailable, match="est injoignable") as caught:
        Geocoder(url, timeout=2).search_many(session, [("1 place Bellecour 69002 Lyon", None)])
    assert caught.value.status == 503
