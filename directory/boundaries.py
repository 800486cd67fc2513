"""The platform's own boundaries as light GeoJSON: départements, and communes when zoomed in.

Every map draws them under its markers, so that with no basemap tiles at all (a venue PC behind a
filtering proxy) the map still shows where things are. Geometries are simplified to about one
screen pixel at the requested zoom and coordinates rounded to what that zoom can show; the box
asked for is widened to a grid of tile-sized cells, so that panning asks again for the same URLs
(cached by the browser, answered 304 with the ETag). Territories change with the COG, once a year:
an answer computed once is kept in memory, keyed by the territories' version.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from threading import Lock
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.db import bbox_filter
from directory.errors import InvalidInput
from directory.models import Territory, TerritoryLevel

# Communes are drawn from this zoom on (a département then fills the screen); départements below.
COMMUNE_MIN_ZOOM = 10
MIN_ZOOM, MAX_ZOOM = 0, 18
# Beyond this many communes in the box, départements are sent instead.
MAX_COMMUNES = 2_500
MAX_CODES = 200
# Simplify to this fraction of a screen pixel (256-pixel tiles in Web Mercator).
PIXEL_FRACTION = 0.75
_CACHE_SIZE = 256
_cache: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_cache_lock = Lock()


def tolerance_degrees(zoom: int) -> float:
    """About one screen pixel at this zoom, in degrees of longitude."""
    return PIXEL_FRACTION * 360 / (256 * 2**zoom)


def coordinate_digits(zoom: int) -> int:
    """Decimals of a degree a zoom can show: 2 at zoom 5 (1 km), 4 at zoom 12 (10 m)."""
    return max(1, min(6, math.ceil(-math.log10(tolerance_degrees(zoom)))))


def clean_zoom(value: Any) -> int:
    try:
        zoom = int(str(value).strip())
    except ValueError:
        zoom = -1
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise InvalidInput(
            f"Le paramètre « zoom » vaut « {value} » : indiquez un niveau de zoom entier de {MIN_ZOOM} à {MAX_ZOOM}.",
            field="zoom", code="invalid_zoom", status=400,
        )
    return zoom


def clean_bbox(value: Any) -> tuple[float, float, float, float]:
    """`ouest,sud,est,nord` in WGS84 degrees."""
    try:
        west, south, east, north = (float(part) for part in str(value).split(","))
    except ValueError:
        west = south = east = north = math.nan
    if not (all(math.isfinite(v) for v in (west, south, east, north))
            and -180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(
            f"Le paramètre « bbox » vaut « {value} » : indiquez ouest,sud,est,nord en degrés WGS84 "
            "(ex. 1.2,44.3,1.7,44.6).",
            field="bbox", code="invalid_bbox", status=400,
        )
    return west, south, east, north


def clean_codes(value: Any) -> tuple[str, ...]:
    codes = tuple(sorted({code.strip().upper() for code in str(value or "").split(",") if code.strip()}))
    if len(codes) > MAX_CODES or any(len(code) > 9 or not code.isalnum() for code in codes):
        raise InvalidInput(
            f"Le paramètre « codes » doit lister au plus {MAX_CODES} codes INSEE ou SIREN séparés par des virgules.",
            field="codes", code="invalid_codes", status=400,
        )
    return codes


def snap_bbox(bbox: tuple[float, float, float, float], zoom: int) -> tuple[float, float, float, float]:
    """The box widened to whole cells of one tile's width at this zoom."""
    cell = 360 / 2**zoom
    west, south, east, north = bbox
    return (max(-180.0, math.floor(west / cell) * cell), max(-90.0, math.floor(south / cell) * cell),
            min(180.0, math.ceil(east / cell) * cell), min(90.0, math.ceil(north / cell) * cell))


def _rounded(coordinates: Any, digits: int) -> Any:
    if isinstance(coordinates[0], float | int):
        return [round(coordinates[0], digits), round(coordinates[1], digits)]
    return [_rounded(part, digits) for part in coordinates]


def geojson_geometry(shape: Any, digits: int) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON mapping with coordinates rounded to `digits` decimals."""
    geometry = shapely.geometry.mapping(shape)
    return {"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"], digits)}


def _features(rows: Iterable[tuple[str, str, Any]], zoom: int, level: str) -> list[dict[str, Any]]:
    rows = list(rows)
    if not rows:
        return []
    digits = coordinate_digits(zoom)
    shapes = shapely.simplify(np.array([to_shape(geom) for _, _, geom in rows], dtype=object),
                              tolerance_degrees(zoom), preserve_topology=True)
    features = []
    for (code, name, _), shape in zip(rows, shapes, strict=True):
        if shape is None or shape.is_empty:
            continue
        features.append({"type": "Feature", "id": f"{level}:{code}", "geometry": geojson_geometry(shape, digits),
                         "properties": {"code": code, "nom": name, "niveau": level}})
    return features


def _version(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(Territory.id), func.max(Territory.id))).one())


def boundary_collection(
    session: Session, *, zoom: int, bbox: tuple[float, float, float, float] | None = None,
    level: str | None = None, codes: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The outlines of one level as a GeoJSON FeatureCollection simplified for `zoom`.

    Without `level`: communes from COMMUNE_MIN_ZOOM on (within `bbox`, at most MAX_COMMUNES), départements
    below. With `codes`, only those territories of the level. More than MAX_COMMUNES communes asked for
    explicitly answer no feature and `tronque`.
    """
    if level is not None and level not in {member.value for member in TerritoryLevel}:
        raise InvalidInput(
            f"Le paramètre « level » vaut « {level} » : indiquez region, departement, epci ou commune.",
            field="level", code="invalid_territory_level", status=400,
        )
    if bbox is not None:
        bbox = snap_bbox(bbox, zoom)
    chosen = level or ("commune" if zoom >= COMMUNE_MIN_ZOOM and bbox is not None else "departement")
    bind = session.get_bind()
    key = (str(getattr(bind, "engine", bind).url), _version(session), chosen, zoom, bbox, codes)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    query = select(Territory.code, Territory.name, Territory.geom).where(
        Territory.level == chosen, Territory.geom.is_not(None))
    if bbox is not None:
        query = query.where(bbox_filter(session, Territory, "geom", *bbox))
    if codes:
        query = query.where(Territory.code.in_(codes))
    truncated = False
    if chosen == "commune" and not codes:
        count = session.scalar(select(func.count()).select_from(query.subquery()))
        if count > MAX_COMMUNES and level is None:
            chosen = "departement"
            query = select(Territory.code, Territory.name, Territory.geom).where(
                Territory.level == chosen, Territory.geom.is_not(None),
                bbox_filter(session, Territory, "geom", *bbox))
        elif count > MAX_COMMUNES:
            truncated = True
    collection = {
        "type": "FeatureCollection", "niveau": chosen, "zoom": zoom, "tronque": truncated,
        "features": [] if truncated else _features(session.execute(query.order_by(Territory.code)), zoom, chosen),
    }
    with _cache_lock:
        _cache[key] = collection
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return collection
