"""The map's visible area beyond the threshold: clusters computed in SQL, checked against the venues grouped
row by row in Python with the same cell rule; the threshold switch, the pass filter, bad zooms."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from directory import factories
from directory.db import point_wkt
from directory.models import Organisation, Venue
from maps.clusters import MAP_CLUSTER_THRESHOLD, MAP_MAX_CELLS, cell_of, cell_size, map_area

FRANCE = (-5.5, 41.0, 10.0, 51.5)
# Lyon and its suburbs: a few hundred of the generated venues.
RHONE = (4.5, 45.4, 5.3, 46.1)
EDGE_MARGIN = 1e-3  # SpatiaLite's R*Tree keeps float32 boxes: no venue this close to a box's edge


@pytest.fixture
def generated(session):
    """1,000 synthetic venues over France by population (about 80 % published), half of them moved
    around Lyon so that its area holds more than the threshold too."""
    ids = factories.generate_venues(session, 1_000, seed=19)
    rng = random.Random(19)
    session.execute(update(Venue), [
        {"id": vid, "location": point_wkt(rng.uniform(4.6, 5.2), rng.uniform(45.5, 46.0))} for vid in ids[::2]
    ])
    session.flush()
    return session


def reference(session, bbox, accepting_pass=False):
    """(id, lon, lat) of the published venues of the box, read venue by venue."""
    west, south, east, north = bbox
    found = []
    for venue in session.scalars(select(Venue).options(selectinload(Venue.organisation))):
        if not venue.published or venue.location is None:
            continue
        if accepting_pass and not (venue.accepts_pass and not venue.distribution_only
                                   and not (venue.organisation and venue.organisation.distribution_only)):
            continue
        point = to_shape(venue.location)
        near = west - EDGE_MARGIN <= point.x <= east + EDGE_MARGIN and south - EDGE_MARGIN <= point.y <= north + EDGE_MARGIN
        inside = west + EDGE_MARGIN < point.x < east - EDGE_MARGIN and south + EDGE_MARGIN < point.y < north - EDGE_MARGIN
        assert inside or not near, f"venue {venue.id} on the edge of {bbox}: choose another box"
        if inside:
            found.append((venue.id, point.x, point.y))
    return found


def grouped(venues, size):
    cells = defaultdict(list)
    for vid, lon, lat in venues:
        cells[cell_of(lon, lat, size)].append((vid, lon, lat))
    return cells


def assert_matches_reference(answer, venues):
    assert answer.cell_deg is not None
    size = answer.cell_deg
    cells = grouped(venues, size)
    assert answer.total == len(venues) == sum(c.count for c in answer.clusters) + len(answer.venues)
    singles = {members[0][0] for members in cells.values() if len(members) == 1}
    assert {v["id"] for v in answer.venues} == singles
    expected = {cell: members for cell, members in cells.items() if len(members) > 1}
    seen = set()
    for cluster in answer.clusters:
        cell = cell_of(cluster.lon, cluster.lat, size)
        assert cell not in seen
        seen.add(cell)
        members = expected[cell]
        assert cluster.count == len(members)
        # The cluster sits where its venues are (their mean), inside its cell, and its box is theirs.
        assert cluster.lon == pytest.approx(statistics.fmean(m[1] for m in members), abs=1e-9)
        assert cluster.lat == pytest.approx(statistics.fmean(m[2] for m in members), abs=1e-9)
        assert cluster.bbox == pytest.approx((min(m[1] for m in members), min(m[2] for m in members),
                                              max(m[1] for m in members), max(m[2] for m in members)), abs=1e-12)
        column, row = cell
        assert column * size - 180 <= cluster.bbox[0] <= cluster.bbox[2] < (column + 1) * size - 180
        assert row * size - 90 <= cluster.bbox[1] <= cluster.bbox[3] < (row + 1) * size - 90
    assert seen == set(expected)


# Cells of 64 px at the zoom, coarser when the box would hold more than MAP_MAX_CELLS of them.
@pytest.mark.parametrize("bbox, zoom, level", [(FRANCE, None, 9), (FRANCE, 6, 8), (RHONE, 9, 11), (RHONE, 12, 13)])
def test_clusters_match_the_venues_grouped_row_by_row(generated, bbox, zoom, level):
    venues = reference(generated, bbox)
    assert len(venues) > MAP_CLUSTER_THRESHOLD
    answer = map_area(generated, bbox, zoom)
    assert_matches_reference(answer, venues)
    assert answer.clusters and len(answer.clusters) + len(answer.venues) <= MAP_MAX_CELLS
    assert answer.cell_deg == 360 / 2**level


def test_cell_size_keeps_a_few_hundred_cells_whatever_the_box():
    for bbox in (FRANCE, RHONE, (-180, -90, 180, 90), (4.8, 45.7, 4.8, 45.7)):
        for zoom in (None, 0, 5, 11, 18):
            size = cell_size(bbox, zoom)
            (west, south), (east, north) = cell_of(bbox[0], bbox[1], size), cell_of(bbox[2], bbox[3], size)
            assert (east - west + 1) * (north - south + 1) <= MAP_MAX_CELLS
    assert cell_size((4.70, 45.70, 5.00, 45.83), 11) == 360 / 2**13
    # A whole-France box asked at street zoom (a huge screen, or a crafted request) gets coarser cells.
    assert cell_size(FRANCE, 16) > 360 / 2**18


def test_threshold_switches_from_venues_to_clusters(generated):
    published = [vid for vid, _lon, _lat in reference(generated, FRANCE)]
    keep = sorted(published)[:MAP_CLUSTER_THRESHOLD + 1]
    generated.execute(update(Venue).where(Venue.id.not_in(keep)).values(published=False))
    above = map_area(generated, FRANCE, 6)
    assert above.cell_deg is not None and above.total == MAP_CLUSTER_THRESHOLD + 1
    assert_matches_reference(above, reference(generated, FRANCE))

    generated.execute(update(Venue).where(Venue.id == keep[-1]).values(published=False))
    at = map_area(generated, FRANCE, 6)
    assert at.cell_deg is None and at.clusters == []
    assert [v["id"] for v in at.venues] == keep[:-1] and at.total == MAP_CLUSTER_THRESHOLD


def test_clusters_keep_only_the_venues_taking_the_pass(generated):
    published = sorted(vid for vid, _lon, _lat in reference(generated, FRANCE))
    generated.execute(update(Venue).where(Venue.id.in_(published[::3])).values(accepts_pass=False))
    generated.execute(update(Venue).where(Venue.id.in_(published[1::7])).values(distribution_only=True))
    operator = generated.get(Venue, published[2]).organisation_id
    generated.execute(update(Organisation).where(Organisation.id == operator).values(distribution_only=True))
    generated.expire_all()
    taking = reference(generated, FRANCE, accepting_pass=True)
    assert MAP_CLUSTER_THRESHOLD < len(taking) < len(published) - len(published[::3])
    answer = map_area(generated, FRANCE, 6, accepting_pass=True)
    assert_matches_reference(answer, taking)
    assert map_area(generated, FRANCE, 6).total == len(published)


def test_api_answers_clusters_as_geojson_with_their_box(generated, client):
    generated.commit()
    bbox = ",".join(map(str, FRANCE))
    response = client.get(f"/api/v1/map/venues?bbox={bbox}&zoom=6")
    assert response.status_code == 200 and response.headers["ETag"]
    answer = response.get_json()
    assert (answer["type"], answer["contenu"]) == ("FeatureCollection", "groupes")
    assert answer["total"] == len(reference(generated, FRANCE)) and answer["maille_deg"] == 360 / 2**8
    groups = [f for f in answer["features"] if "bbox" in f]
    singles = [f for f in answer["features"] if "bbox" not in f]
    assert groups and answer["features"][:len(groups)] == groups  # clusters first, then single venues
    assert sum(f["properties"]["lieux"] for f in groups) + len(singles) == answer["total"]
    for feature in groups:
        west, south, east, north = feature["bbox"]
        lon, lat = feature["geometry"]["coordinates"]
        assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
        assert feature["properties"]["lieux"] > 1
    for feature in singles:
        assert set(feature["properties"]) == {"id", "nom", "commune", "url"}
    again = client.get(f"/api/v1/map/venues?bbox={bbox}&zoom=6", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    few = client.get("/api/v1/map/venues?bbox=4.83,45.75,4.84,45.76&zoom=16").get_json()
    assert few["contenu"] == "lieux" and few["maille_deg"] is None and few["total"] == len(few["features"])


@pytest.mark.parametrize("zoom", ["-1", "19", "douze", "1.5"])
def test_bad_zoom_is_refused_in_french(client, zoom):
    response = client.get(f"/api/v1/map/venues?bbox=4.7,45.7,5.0,45.83&zoom={zoom}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_zoom", "zoom")
    assert error["message"] == f"Le paramètre « zoom » vaut « {zoom} » : indiquez un niveau de zoom entier de 0 à 18."
    bad_box = client.get("/api/v1/map/venues?bbox=5,45,4,46&zoom=10").get_json()["error"]
    assert (bad_box["code"], bad_box["field"]) == ("invalid_bbox", "bbox")


def test_bubbles_stay_one_per_territory(generated, client):
    generated.commit()
    for level, most in (("region", 18), ("departement", 101)):
        response = client.get(f"/api/v1/map/counts?level={level}")
        answer = response.get_json()
        assert 0 < len(answer["territoires"]) <= most and response.headers["ETag"]
        assert sum(t["lieux"] for t in answer["territoires"]) <= len(reference(generated, (-180, -90, 180, 90)))
