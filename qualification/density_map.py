"""The back office's density map: choropleths of qualified venues per 10,000 inhabitants and of quota use.

The page carries only each territory's figures; the outlines come from the boundaries endpoint,
simplified for the zoom and cached by the browser (see directory/boundaries.py), so the page stays
light whatever the policy's level.
"""

from __future__ import annotations

import folium

from directory import basemap, french
from qualification.density import TerritoryDensity

DENSITY_COLOURS = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]
DENSITY_STEPS = [0, 0.25, 0.5, 1, 2, 5]
QUOTA_COLOURS = ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d", "#67000d"]
QUOTA_STEPS = [0, 50, 90, 100, 101, 300]
TOOLTIP = [("nom", "Territoire"), ("code", "Code"), ("population", "Population"), ("lieux", "Lieux qualifiés / quota"),
           ("densite_texte", "Lieux pour 10 000 hab."), ("usage_texte", "Usage du quota (%)")]


def density_figures(rows: list[TerritoryDensity]) -> dict[str, dict]:
    """What the map colours and shows for each territory, keyed "level:code"."""
    return {f"{row.level}:{row.code}": {
        "nom": row.name, "code": row.code, "population": french.number(row.population),
        "lieux": f"{row.qualified} / {row.quota}", "densite": round(row.venues_per_10k, 2),
        "densite_texte": french.number(row.venues_per_10k, 2), "usage": round(100 * row.quota_use),
        "usage_texte": french.number(round(100 * row.quota_use)),
    } for row in rows}


def density_map(rows: list[TerritoryDensity]) -> folium.Map:
    """Two choropleth layers over the territories of the table: venues per 10,000 inhabitants, and quota use."""
    fmap = basemap.base_map((46.6, 2.4), 6, prefer_canvas=True)
    levels = {row.level for row in rows}
    main_level = next((level for level in levels if level != "commune"), "commune")
    basemap.RemoteChoropleth(
        level=main_level,
        figures=density_figures(rows),
        layers=[{"name": "Densité (lieux pour 10 000 habitants)", "key": "densite", "colours": DENSITY_COLOURS,
                 "index": DENSITY_STEPS},
                {"name": "Usage du quota", "key": "usage", "colours": QUOTA_COLOURS, "index": QUOTA_STEPS}],
        tooltip=TOOLTIP,
        extra_codes=[row.code for row in rows if row.level == "commune" and main_level != "commune"][:200],
    ).add_to(fmap)
    basemap.StepLegend(DENSITY_COLOURS, DENSITY_STEPS, "Lieux qualifiés pour 10 000 habitants").add_to(fmap)
    basemap.StepLegend(QUOTA_COLOURS, QUOTA_STEPS, "Usage du quota", unit="%").add_to(fmap)
    return fmap
