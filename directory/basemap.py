"""Every map's code and basemap, self-hosted: Leaflet and MarkerCluster from their PyPI packages.

folium points its maps at public CDNs (Leaflet, MarkerCluster, jQuery, Bootstrap, icon fonts). A
venue PC behind a filtering proxy, and every test here, has no access to them, and the platform's
Content-Security-Policy allows scripts from itself only. `localise()` rewrites the assets of a
folium map and of every element in it to the copies the platform serves under /static/vendor/,
and drops the ones no map of ours uses. The tiles come from a setting; when they fail, markers and
choropleths still show on a plain background and basemap.js says so.
"""

from __future__ import annotations

from pathlib import Path

import folium
import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from flask import current_app, url_for
from jinja2 import Template
from markupsafe import Markup

from directory import french
from directory.boundaries import COMMUNE_MIN_ZOOM

# Plan IGN v2 (Géoplateforme, WMTS in Web Mercator): French public basemap, Licence Ouverte 2.0.
DEFAULT_TILE_URL = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&FORMAT=image/png"
    "&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
)
DEFAULT_TILE_ATTRIBUTION = (
    '<a href="https://www.ign.fr/">IGN-F / Géoplateforme</a>, '
    '<a href="https://www.etalab.gouv.fr/licence-ouverte-open-licence/">Licence Ouverte 2.0</a>'
)

VENDOR_DIRECTORIES: dict[str, Path] = {
    "leaflet": Path(xstatic.pkg.leaflet.BASE_DIR),
    "leaflet-markercluster": Path(xstatic.pkg.leaflet_markercluster.BASE_DIR),
}

# folium's asset names → (vendored package, file). Any other asset (jQuery, Bootstrap, fonts) is dropped.
_LOCAL_JS = {
    "leaflet": ("leaflet", "leaflet.js"),
    "markerclusterjs": ("leaflet-markercluster", "leaflet.markercluster.js"),
}
_LOCAL_CSS = {
    "leaflet_css": ("leaflet", "leaflet.css"),
    "markerclustercss": ("leaflet-markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet-markercluster", "MarkerCluster.Default.css"),
}


def vendor_directory(package: str) -> Path | None:
    return VENDOR_DIRECTORIES.get(package)


def vendor_url(package: str, filename: str) -> str:
    return url_for("aptic.vendor", package=package, filename=filename)


def _local(assets: list[tuple[str, str]], table: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, vendor_url(*table[name])) for name, _ in assets if name in table]


def _elements(element: Element):
    yield element
    for child in element._children.values():
        yield from _elements(child)


def localise(fmap: folium.Map) -> folium.Map:
    """Point the map and all its elements at the platform's own copies of their scripts and styles."""
    for element in _elements(fmap):
        if hasattr(element, "default_js"):
            element.default_js = _local(element.default_js, _LOCAL_JS)
        if hasattr(element, "default_css"):
            element.default_css = _local(element.default_css, _LOCAL_CSS)
    fmap.default_js = [*fmap.default_js, ("aptic_basemap", url_for("aptic.static", filename="basemap.js"))]
    fmap.default_css = [*fmap.default_css, ("aptic_basemap_css", url_for("aptic.static", filename="basemap.css"))]
    return fmap


# Up to this zoom the boundaries of the whole country are asked for in one (cacheable) request.
BOUNDARIES_WHOLE_MAX_ZOOM = 6


class Boundaries(MacroElement):
    """Hands the map to basemap.js, which draws the platform's own boundaries under everything else."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        if (window.apticBoundaries) { window.apticBoundaries({{ this._parent.get_name() }}, {{ this.options|tojson }}); }
        {% endmacro %}"""
    )

    def __init__(self, url: str) -> None:
        super().__init__()
        self._name = "Boundaries"
        self.options = {"url": url, "wholeMaxZoom": BOUNDARIES_WHOLE_MAX_ZOOM, "communeMinZoom": COMMUNE_MIN_ZOOM}


class RemoteChoropleth(MacroElement):
    """Outlines of one territory level, fetched from the boundaries endpoint for the current zoom, coloured
    by figures the page carries (`figures`: "level:code" → values). `layers`: one per coloured figure,
    each {name, key, colours, index} with index[i] the lower bound of colours[i]; the first is shown.
    `tooltip`: (figure key, French label) pairs. `extra_codes`: communes drawn among another level
    (islands that are their own territory)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        if (window.apticChoropleth) { window.apticChoropleth({{ this._parent.get_name() }}, {{ this.options|tojson }}); }
        {% endmacro %}"""
    )

    def __init__(self, *, level: str, figures: dict[str, dict], layers: list[dict], tooltip: list[tuple[str, str]],
                 extra_codes: list[str] | None = None) -> None:
        super().__init__()
        self._name = "RemoteChoropleth"
        self.options = {"url": url_for("directory_api.map_boundaries"), "level": level, "figures": figures,
                        "layers": layers, "tooltip": tooltip, "extraCodes": extra_codes or [],
                        # Communes are always asked for within the visible box.
                        "wholeMaxZoom": -1 if level == "commune" else BOUNDARIES_WHOLE_MAX_ZOOM}


class StepLegend(MacroElement):
    """A colour legend drawn with plain DOM (no d3, no inline style attribute the CSP would refuse):
    colours[i] stands for values from index[i] to index[i + 1]."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (options) {
            var legend = L.control({ position: "topright" });
            legend.onAdd = function () {
                var box = L.DomUtil.create("div", "aptic-legend");
                var caption = L.DomUtil.create("p", "aptic-legend-caption", box);
                caption.textContent = options.caption;
                var list = L.DomUtil.create("ul", "", box);
                options.colours.forEach(function (colour, i) {
                    var item = L.DomUtil.create("li", "", list);
                    var swatch = L.DomUtil.create("span", "aptic-legend-swatch", item);
                    swatch.style.background = colour;
                    item.appendChild(document.createTextNode(options.labels[i]));
                });
                return box;
            };
            legend.addTo({{ this._parent.get_name() }});
        })({{ this.options|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, colours: list[str], index: list[float], caption: str, unit: str = "") -> None:
        super().__init__()
        self._name = "StepLegend"
        suffix = f"\u202f{unit}" if unit else ""
        labels = [f"{french.number(low)} à {french.number(high)}{suffix}"
                  for low, high in zip(index, index[1:], strict=False)]
        self.options = {"caption": caption, "colours": colours, "labels": labels}


def base_map(location: tuple[float, float], zoom_start: int, **options) -> folium.Map:
    """A folium map on the configured tiles (no tiles at all when the setting is empty), over the
    platform's own boundaries."""
    fmap = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=True, **options)
    tile_url = current_app.config.get("TILE_URL", DEFAULT_TILE_URL)
    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=current_app.config.get("TILE_ATTRIBUTION", DEFAULT_TILE_ATTRIBUTION),
                         name="Fond de carte", control=False, max_zoom=19).add_to(fmap)
    Boundaries(url_for("directory_api.map_boundaries")).add_to(fmap)
    return fmap


def _localise_header(root: folium.Figure) -> None:
    """Assets added while rendering get the same treatment (legends are drawn without d3: none is served)."""
    header = root.header._children
    for name, child in list(header.items()):
        if isinstance(child, (JavascriptLink, CssLink)) and child.url.startswith(("http://", "https://", "//")):
            table = _LOCAL_JS if isinstance(child, JavascriptLink) else _LOCAL_CSS
            if name in table:
                child.url = vendor_url(*table[name])
            else:
                del header[name]


def render(fmap: folium.Map) -> folium.Figure:
    """Render a map whose every script and style is served by the platform."""
    root = localise(fmap).get_root()
    root.render()
    _localise_header(root)
    return root


def page_parts(fmap: folium.Map) -> dict[str, Markup]:
    """A localised map's head (styles, scripts), its element and its script, to place in a page."""
    root = render(fmap)
    return {"header": Markup(root.header.render()), "html": Markup(root.html.render()),
            "script": Markup(root.script.render())}
