"""Folium maps of the public pages.

The page carries only the map's frame (centre, search point and radius, an empty cluster layer);
maps/static/map.js then fetches bubbles per région or département and, at street level, the
venues of the visible area as GeoJSON. Nothing about the venues is inlined, so the page stays
light, and the server-rendered list remains the accessible alternative when scripts fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import CssLink, JavascriptLink, MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template
from markupsafe import Markup

from directory import basemap

FRANCE_CENTRE = (46.6, 2.4)
FRANCE_ZOOM = 5
# Up to this zoom one bubble per région, then per département, then clustered venue markers.
REGION_MAX_ZOOM = 6
DEPARTEMENT_MAX_ZOOM = 9
# A venue's own page shows its neighbourhood: its streets with tiles, the commune outlines without.
VENUE_ZOOM = 14


class _DynamicVenues(MacroElement):
    """Hands the Leaflet map and its cluster layer to maps/static/map.js."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        if (window.apticMap) {
            window.apticMap({{ this._parent.get_name() }}, {{ this.cluster.get_name() }}, {{ this.options|tojson }});
        }
        {% endmacro %}"""
    )

    def __init__(self, cluster: MarkerCluster, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "DynamicVenues"
        self.cluster = cluster
        self.options = options


@dataclass(frozen=True)
class RenderedMap:
    html: Markup
    script: Markup
    stylesheets: list[str]
    scripts: list[str]


def venue_map(
    *,
    counts_url: str,
    venues_url: str,
    centre: tuple[float, float] | None = None,
    radius_m: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    centre_label: str = "Point de recherche",
) -> RenderedMap:
    """A map of the published venues, framed on a search (point and radius) or on a territory.

    `centre` is (lat, lon); `bounds` is (west, south, east, north).
    """
    fmap = basemap.base_map(centre or FRANCE_CENTRE, FRANCE_ZOOM if centre is None else VENUE_ZOOM)
    cluster = MarkerCluster(name="Lieux", control=False).add_to(fmap)
    if centre is not None:
        # A fixed text: folium writes tooltips into a JavaScript template literal unescaped.
        folium.Marker(centre, tooltip=centre_label, alt=centre_label).add_to(fmap)
    if centre is not None and radius_m is not None:
        folium.Circle(centre, radius=radius_m, color="#000091", weight=2, fill=True, fill_opacity=0.05,
                      interactive=False).add_to(fmap)
        lat, lon = centre
        dlat = radius_m / 110_574
        dlon = dlat / max(0.05, math.cos(math.radians(lat)))
        fmap.fit_bounds([[lat - dlat, lon - dlon], [lat + dlat, lon + dlon]])
    elif bounds is not None:
        west, south, east, north = bounds
        fmap.fit_bounds([[south, west], [north, east]])
    _DynamicVenues(cluster, {
        "countsUrl": counts_url,
        "venuesUrl": venues_url,
        "regionMaxZoom": REGION_MAX_ZOOM,
        "departementMaxZoom": DEPARTEMENT_MAX_ZOOM,
    }).add_to(fmap)

    root = basemap.render(fmap)
    stylesheets, scripts = [], []
    for child in root.header._children.values():
        if isinstance(child, CssLink):
            stylesheets.append(child.url)
        elif isinstance(child, JavascriptLink):
            scripts.append(child.url)
    return RenderedMap(
        html=Markup(root.html.render()),
        script=Markup(root.script.render()),
        stylesheets=stylesheets,
        scripts=scripts,
    )
