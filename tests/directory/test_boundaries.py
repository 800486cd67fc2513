"""The boundaries every map draws: simplified per zoom, rounded, cacheable with an ETag."""

from __future__ import annotations

import json

from directory import boundaries


def _coordinates(geometry):
    def walk(part):
        if isinstance(part[0], float | int):
            yield part
        else:
            for item in part:
                yield from walk(item)
    return list(walk(geometry["coordinates"]))


def test_departements_far_out_communes_close_in_rounded_to_the_zoom(client):
    far = client.get("/api/v1/map/boundaries?zoom=5")
    assert far.status_code == 200 and far.mimetype == "application/geo+json"
    collection = far.get_json()
    assert collection["niveau"] == "departement" and len(collection["features"]) == 101
    lot = next(f for f in collection["features"] if f["properties"]["code"] == "46")
    assert lot["properties"]["nom"] == "Lot"
    assert all(len(repr(x).split(".")[-1]) <= 2 for point in _coordinates(lot["geometry"]) for x in point)

    close = client.get("/api/v1/map/boundaries?zoom=12&bbox=1.40,44.42,1.47,44.47").get_json()
    assert close["niveau"] == "commune"
    assert "46042" in {f["properties"]["code"] for f in close["features"]}  # Cahors
    assert boundaries.coordinate_digits(12) == 4
    # Simplified for the zoom: the national outline at zoom 5 is a fraction of the one at zoom 9.
    assert len(far.get_data()) < len(client.get("/api/v1/map/boundaries?zoom=9&bbox=-5,41,10,51").get_data()) / 3


def test_answers_are_cacheable_and_revalidated_with_their_etag(client):
    first = client.get("/api/v1/map/boundaries?zoom=6")
    assert first.headers["ETag"] and "public" in first.headers["Cache-Control"]
    again = client.get("/api/v1/map/boundaries?zoom=6", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    compressed = client.get("/api/v1/map/boundaries?zoom=6", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["Content-Encoding"] == "gzip" and len(compressed.get_data()) < len(first.get_data()) / 3
    revalidated = client.get("/api/v1/map/boundaries?zoom=6", headers={
        "Accept-Encoding": "gzip", "If-None-Match": compressed.headers["ETag"]})
    assert revalidated.status_code == 304


def test_codes_pick_territories_of_a_level(client):
    collection = client.get("/api/v1/map/boundaries?zoom=7&level=region&codes=76,75").get_json()
    assert sorted(f["properties"]["code"] for f in collection["features"]) == ["75", "76"]


def test_bad_parameters_are_refused_in_french(client):
    for query, code in (("zoom=40", "invalid_zoom"), ("", "invalid_zoom"), ("zoom=10&bbox=1,2,3", "invalid_bbox"),
                        ("zoom=5&level=canton", "invalid_territory_level"), ("zoom=5&codes=a;b", "invalid_codes")):
        response = client.get(f"/api/v1/map/boundaries?{query}")
        assert response.status_code == 400, query
        assert json.loads(response.get_data())["error"]["code"] == code, query
