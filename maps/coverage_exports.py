"""Coverage exports: per-commune rows, map units and venues, drawn as a map or written as CSV and GeoJSON."""

from __future__ import annotations

import html
import io
import json
from typing import Any

import branca.colormap
import folium
import folium.plugins
import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from directory import basemap, french
from directory.boundaries import geojson_geometry
from directory.csv_files import SafeWriter
from directory.models import Service, Territory, Venue, VenueService
from maps.coverage import (
    COVERAGE_LEVELS,
    DISTANCE_COLUMNS,
    MAX_COMMUNE_UNITS,
    VENUE_COLUMNS,
    CoverageArea,
    covered_within,
    share_of,
    sum_or_zero,
)
from maps.models import CommuneCoverage, FragilityIndex


def coverage_communes(session: Session, area: CoverageArea, level: int, distance_km: float) -> list[dict[str, Any]]:
    """One row per commune of the area: distances to the nearest venue of each level, coverage flags."""
    rows = session.execute(
        select(CommuneCoverage, FragilityIndex.total)
        .outerjoin(FragilityIndex, and_(FragilityIndex.level == "commune",
                                        FragilityIndex.code == CommuneCoverage.commune_code))
        .where(area.condition)
        .order_by(CommuneCoverage.commune_code)
    ).all()
    result = []
    for coverage, fragility in rows:
        distance = getattr(coverage, f"distance_level{level}_m")
        item = {
            "code": coverage.commune_code, "name": coverage.name, "departement": coverage.departement_code,
            "population": coverage.population, "located": coverage.located,
        }
        for number in COVERAGE_LEVELS:
            meters = getattr(coverage, f"distance_level{number}_m")
            item[f"distance_level{number}_km"] = None if meters is None else round(meters / 1000, 2)
        item |= {
            "venues": coverage.venues,
            **{f"venues_level{number}": getattr(coverage, f"venues_level{number}") for number in COVERAGE_LEVELS},
            "covered": distance is not None and distance <= distance_km * 1000,
            # The zones blanches follow the selection: no venue of the level within the distance.
            "zone_blanche": coverage.located and (distance is None or distance > distance_km * 1000),
            "fragility": None if fragility is None else round(fragility, 2),
            "accessibility": coverage.accessibility,
        }
        result.append(item)
    return result


def coverage_unit_level(session: Session, area: CoverageArea) -> str:
    """Map units: communes for a département or smaller, départements for a région, France or a large zone."""
    if area.level in ("france", "region"):
        return "departement"
    if area.level == "zone":
        communes = session.scalar(select(func.count()).select_from(CommuneCoverage).where(area.condition))
        return "departement" if communes > MAX_COMMUNE_UNITS else "commune"
    return "commune"


def coverage_units(session: Session, area: CoverageArea, level: int, distance_km: float) -> list[dict[str, Any]]:
    """The map units of an area with the share of their population covered, and simplified polygons."""
    unit_level = coverage_unit_level(session, area)
    covered = sum_or_zero(case((covered_within(level, distance_km), CommuneCoverage.population), else_=0))
    key = CommuneCoverage.commune_code if unit_level == "commune" else CommuneCoverage.departement_code
    figures = session.execute(
        select(key, sum_or_zero(CommuneCoverage.population), covered, sum_or_zero(VENUE_COLUMNS[level]),
               func.min(DISTANCE_COLUMNS[level]))
        .where(area.condition)
        .group_by(key)
    ).all()
    by_code = {row[0]: row for row in figures}
    territories = session.execute(
        select(Territory.code, Territory.name, Territory.geom)
        .where(Territory.level == unit_level, Territory.code.in_(select(key).where(area.condition)),
               Territory.geom.is_not(None))
        .order_by(Territory.code)
    ).all()
    tolerance = 0.0005 if unit_level == "commune" else 0.005
    shapes = shapely.simplify(np.array([to_shape(geom) for _, _, geom in territories], dtype=object), tolerance,
                              preserve_topology=True)
    units = []
    for (code, name, _geom), shape in zip(territories, shapes, strict=True):
        _, population, people, venues, nearest = by_code[code]
        units.append({
            "code": code, "nom": name, "population": int(population), "population_couverte": int(people),
            "part": share_of(int(people), int(population)), "lieux": int(venues),
            "distance_km": None if nearest is None or unit_level != "commune" else round(nearest / 1000, 1),
            "geometry": shape,
        })
    return units


def coverage_venues(session: Session, area: CoverageArea, level: int) -> list[dict[str, Any]]:
    """The published venues of the area offering a level, with their position."""
    rows = session.execute(
        select(Venue.id, Venue.nom, Venue.commune, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .where(
            Venue.published,
            Venue.location.is_not(None),
            Venue.code_insee.in_(select(CommuneCoverage.commune_code).where(area.condition)),
            Venue.id.in_(
                select(VenueService.venue_id).join(Service, Service.id == VenueService.service_id)
                .where(Service.level_number == level)
            ),
        )
        .order_by(Venue.id)
    ).all()
    return [{"id": vid, "name": name, "commune": commune, "lon": lon, "lat": lat} for vid, name, commune, lon, lat in rows]


SHARE_COLOURS = ["#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac"]
SHARE_STEPS = [0, 20, 40, 60, 80, 99.5, 100]
# Beyond this many markers, the map clusters venues client-side to stay light.
MAX_PLAIN_MARKERS = 800


def coverage_map(
    units: list[dict[str, Any]], venues: list[dict[str, Any]], level: int, distance_km: float, unit_level: str
) -> folium.Map:
    """A choropleth of the share of population covered, with a legend and the venues on top."""
    fmap = basemap.base_map((46.6, 2.4), 6, prefer_canvas=True)
    colours = branca.colormap.StepColormap(SHARE_COLOURS, index=SHARE_STEPS, vmin=0, vmax=100)
    legend = basemap.StepLegend(
        SHARE_COLOURS, SHARE_STEPS,
        f"Part de la population à moins de {french.number(distance_km)} km d'un lieu de niveau {level} (%)", unit="%")
    # Coordinates rounded to the simplification (about 50 m for communes, 500 m for départements).
    digits = 4 if unit_level == "commune" else 3
    features = [
        {"type": "Feature", "geometry": geojson_geometry(unit["geometry"], digits),
         "properties": {
             "nom": unit["nom"], "code": unit["code"], "population": unit["population"],
             "part": "—" if unit["part"] is None else f"{unit['part'] * 100:.0f} %",
             "value": None if unit["part"] is None else unit["part"] * 100,
             "lieux": unit["lieux"],
             "distance": "—" if unit["distance_km"] is None else f"{unit['distance_km']:.1f} km",
         }}
        for unit in units
    ]
    fields, aliases = ["nom", "code", "population", "part", "lieux"], ["Territoire", "Code", "Population",
                                                                       "Population couverte", "Lieux"]
    if unit_level == "commune":
        fields.append("distance")
        aliases.append(f"Lieu de niveau {level} le plus proche")
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name="Couverture",
            style_function=lambda feature: {
                "fillColor": "#cccccc" if feature["properties"]["value"] is None
                else colours(feature["properties"]["value"]),
                "color": "#555555", "weight": 0.5, "fillOpacity": 0.7,
            },
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
        )
        layer.add_to(fmap)
        xmin, ymin, xmax, ymax = shapely.total_bounds([unit["geometry"] for unit in units])
        fmap.fit_bounds([[ymin, xmin], [ymax, xmax]])
    legend.add_to(fmap)
    venue_layer = folium.FeatureGroup(name=f"Lieux de niveau {level}")
    if len(venues) > MAX_PLAIN_MARKERS:
        folium.plugins.FastMarkerCluster([[round(v["lat"], 5), round(v["lon"], 5)] for v in venues]).add_to(venue_layer)
    else:
        for venue in venues:
            folium.CircleMarker(
                [venue["lat"], venue["lon"]], radius=5, color="#000091", weight=1, fill=True, fill_opacity=0.9,
                tooltip=_tooltip_text(f"{venue['name']} ({venue['commune']})"),
            ).add_to(venue_layer)
    venue_layer.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def _tooltip_text(text: str) -> str:
    """Folium writes tooltips into a JavaScript template literal as they are: escape HTML and the
    characters that would end the literal or interpolate in it."""
    return html.escape(text).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


COVERAGE_CSV_COLUMNS = [
    "code_insee", "commune", "departement", "population", "distance_niveau_1_km", "distance_niveau_2_km",
    "distance_niveau_3_km", "lieux", "lieux_niveau_1", "lieux_niveau_2", "lieux_niveau_3", "couverte",
    "zone_blanche", "indice_fragilite", "accessibilite_e2sfca",
]


def coverage_csv(communes: list[dict[str, Any]]) -> str:
    """The per-commune figures as CSV (`;`-separated, UTF-8 with BOM, as spreadsheets expect in France)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = SafeWriter(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COVERAGE_CSV_COLUMNS)
    for c in communes:
        writer.writerow([
            c["code"], c["name"], c["departement"], c["population"],
            *("" if c[f"distance_level{n}_km"] is None else c[f"distance_level{n}_km"] for n in COVERAGE_LEVELS),
            c["venues"], *(c[f"venues_level{n}"] for n in COVERAGE_LEVELS),
            "oui" if c["covered"] else "non", "oui" if c["zone_blanche"] else "non",
            "" if c["fragility"] is None else c["fragility"],
            "" if c["accessibility"] is None else c["accessibility"],
        ])
    return out.getvalue()


def coverage_geojson(units: list[dict[str, Any]], figures: dict[str, Any], level: int, distance_km: float) -> str:
    """The map units with their figures as a GeoJSON FeatureCollection; the area's figures ride along."""
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(unit["geometry"]),
         "properties": {key: value for key, value in unit.items() if key != "geometry"}}
        for unit in units
    ]
    return json.dumps(
        {"type": "FeatureCollection", "features": features,
         "selection": {"niveau": level, "distance_km": distance_km}, "couverture": figures},
        ensure_ascii=False,
    )
