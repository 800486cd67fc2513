"""What the public map shows of its visible area: the venues themselves, or clusters of them above a threshold.

An answer is bounded by the screen, not by the data: up to `MAP_CLUSTER_THRESHOLD` venues in view come
one by one; beyond, the venues are counted per cell of a grid in SQL, at most `MAP_MAX_CELLS` cells in
view. The grid is global — square cells of 360 / 2^k degrees counted from (-180°, -90°) — so a cell is
the same cell whatever the box: panning does not move the clusters, and the SQL and its Python
reference (`cell_of`) agree exactly, since 360 / 2^k is exact in binary. With the map's zoom, a cell is a
quarter of a 256 px tile wide (64 px): a 1280 × 800 map shows about 200 of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from directory.boundaries import MAX_ZOOM
from directory.db import bbox_filter
from directory.models import Venue
from maps.public import accepting_pass_only

# 300 markers of ~200 bytes are ~60 KB of JSON and still legible on a screen (about 200 cells of 64 px);
# beyond, clusters: at most 400 cells of ~130 bytes, or a venue for a cell holding one, stay under 100 KB.
MAP_CLUSTER_THRESHOLD = 300
MAP_MAX_CELLS = 400
CELL_LEVELS_PER_TILE = 2  # a cell is 2^-2 of a tile wide
Bbox = tuple[float, float, float, float]
MARKER_COLUMNS = (Venue.id, Venue.nom, Venue.commune, func.ST_X(Venue.location), func.ST_Y(Venue.location))


@dataclass(frozen=True)
class Cluster:
    count: int
    lon: float  # mean position of its venues: the cluster sits where they are
    lat: float
    bbox: Bbox  # west, south, east, north of its venues


@dataclass(frozen=True)
class MapAnswer:
    """The visible area's answer: every venue in view (`cell_deg` None), or clusters and the single venues of
    cells holding one. `total` counts the venues in view either way."""

    total: int
    venues: list[dict[str, Any]]
    clusters: list[Cluster]
    cell_deg: float | None


def cell_of(lon: float, lat: float, size: float) -> tuple[int, int]:
    """The grid cell (column, row) holding a point, for cells of `size` degrees."""
    return math.floor((lon + 180) / size), math.floor((lat + 90) / size)


def cell_size(bbox: Bbox, zoom: int | None) -> float:
    """Degrees of a cell side: 64 px at `zoom`, larger when the box would hold more than `MAP_MAX_CELLS`
    cells (a big screen, or no zoom given)."""
    level = (MAX_ZOOM if zoom is None else zoom) + CELL_LEVELS_PER_TILE
    while level > 0:
        size = 360 / 2**level
        (west, south), (east, north) = cell_of(bbox[0], bbox[1], size), cell_of(bbox[2], bbox[3], size)
        if (east - west + 1) * (north - south + 1) <= MAP_MAX_CELLS:
            return size
        level -= 1
    return 360.0


def map_area(session: Session, bbox: Bbox, zoom: int | None = None, accepting_pass: bool = False) -> MapAnswer:
    """The published venues of a lon/lat box (with `accepting_pass`, only those taking the cheques), or their
    clusters when there are more than `MAP_CLUSTER_THRESHOLD`."""
    # The cells first: one pass over a wide box gives the total too (a second one would only fetch markers).
    size = cell_size(bbox, zoom)
    cells = session.execute(_cells(session, bbox, size, accepting_pass)).all()
    total = sum(cell[0] for cell in cells)
    if total <= MAP_CLUSTER_THRESHOLD:
        venues = _markers(session, _published_in(session, bbox, accepting_pass, *MARKER_COLUMNS))
        return MapAnswer(total=total, venues=venues, clusters=[], cell_deg=None)
    clusters = [Cluster(count, lon, lat, (west, south, east, north))
                for count, lon, lat, west, south, east, north, _ in cells if count > 1]
    single_ids = [cell[-1] for cell in cells if cell[0] == 1]
    singles = _markers(session, select(*MARKER_COLUMNS).where(Venue.id.in_(single_ids))) if single_ids else []
    return MapAnswer(total=total, venues=singles, clusters=clusters, cell_deg=size)


def _published_in(session: Session, bbox: Bbox, accepting_pass: bool, *columns: Any) -> Any:
    statement = select(*columns).where(Venue.published, bbox_filter(session, Venue, "location", *bbox))
    return accepting_pass_only(statement) if accepting_pass else statement


def _markers(session: Session, statement: Select) -> list[dict[str, Any]]:
    """Light marker records, by id, of a selection of `MARKER_COLUMNS`."""
    return [{"id": vid, "nom": nom, "commune": commune, "lon": x, "lat": y}
            for vid, nom, commune, x, y in session.execute(statement.order_by(Venue.id))]


def _cells(session: Session, bbox: Bbox, size: float, accepting_pass: bool) -> Select:
    """Per non-empty cell, in column then row order: count, mean lon, mean lat, west, south, east, north of its
    venues, and its lowest venue id (the venue itself when alone)."""
    points = _published_in(session, bbox, accepting_pass, Venue.id.label("id"),
                           func.ST_X(Venue.location).label("x"), func.ST_Y(Venue.location).label("y")).subquery()
    cells = select(points.c.id, points.c.x, points.c.y,
                   func.floor((points.c.x + 180) / size).label("col"),
                   func.floor((points.c.y + 90) / size).label("row")).subquery()
    return (
        select(func.count(), func.avg(cells.c.x), func.avg(cells.c.y), func.min(cells.c.x), func.min(cells.c.y),
               func.max(cells.c.x), func.max(cells.c.y), func.min(cells.c.id))
        .group_by(cells.c.col, cells.c.row)
        .order_by(cells.c.col, cells.c.row)
    )

