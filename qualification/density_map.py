"""The back office's density map: choropleths of qualified venues per 10,000 inhabitants and of quota use."""

from __future__ import annotations

import branca
import folium
import shapely
from shapely.geometry.base import BaseGeometry

from directory import basemap
from qualification.density import TerritoryDensity

DENSITY_COLOURS = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]
QUOTA_COLOURS = ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d", "#67000d"]


def density_map(outlines: list[tuple[TerritoryDensity, BaseGeometry]]) -> folium.Map:
    """Two choropleth layers: venues per 10,000 inhabitants, and quota use."""
    features = []
    for row, shape in outlines:
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(shape), "properties": {
            "nom": row.name, "code": row.code, "population": row.population, "lieux": f"{row.qualified} / {row.quota}",
            "densite": round(row.venues_per_10k, 2), "usage": round(100 * row.quota_use),
        }})
    fmap = basemap.base_map((46.6, 2.4), 6, prefer_canvas=True)
    density_scale = branca.colormap.StepColormap(
        DENSITY_COLOURS, index=[0, 0.25, 0.5, 1, 2, 5], vmin=0, vmax=5, caption="Lieux qualifiés pour 10 000 habitants")
    quota_scale = branca.colormap.StepColormap(
        QUOTA_COLOURS, index=[0, 50, 90, 100, 101, 300], vmin=0, vmax=300, caption="Usage du quota (%)")
    tooltip = ["nom", "code", "population", "lieux", "densite", "usage"]
    aliases = ["Territoire", "Code", "Population", "Lieux qualifiés / quota", "Lieux pour 10 000 hab.", "Usage du quota (%)"]
    collection = {"type": "FeatureCollection", "features": features}
    for name, key, scale, shown in (("Densité (lieux pour 10 000 habitants)", "densite", density_scale, True),
                                    ("Usage du quota", "usage", quota_scale, False)):
        folium.GeoJson(
            collection, name=name, show=shown,
            style_function=lambda feature, key=key, scale=scale: {
                "fillColor": scale(min(feature["properties"][key], scale.vmax)), "color": "#555555", "weight": 0.4,
                "fillOpacity": 0.75,
            },
            tooltip=folium.GeoJsonTooltip(fields=tooltip, aliases=aliases),
        ).add_to(fmap)
    density_scale.add_to(fmap)
    quota_scale.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap

