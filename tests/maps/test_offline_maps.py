"""Maps with the world cut off, in a real Chromium: every script, style and image comes from the
platform itself, each map draws its data with no console error, and tiles load only from the
configured tile host (here a local tile server)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from directory.db import make_engine
from maps import api as maps_api
from tests.builders import CAHORS, PASSWORD, aptic_staff, offset, publish_venue, served_app

pytestmark = pytest.mark.browser
# A 1×1 grey PNG: what the local tile server answers for every tile.
TILE = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg==")


class _TileHandler(BaseHTTPRequestHandler):
    served: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _TileHandler.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(TILE)))
        self.end_headers()
        self.wfile.write(TILE)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def tile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TileHandler)
    _TileHandler.served = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def world(committed_database_url: str) -> dict:
    engine = make_engine(committed_database_url)
    with Session(engine, expire_on_commit=False) as session:
        venues = [publish_venue(session, *offset(*CAHORS, metres, bearing), nom=f"Espace numérique {i}")
                  for i, (metres, bearing) in enumerate([(300, 0), (900, 120), (2_500, 240)])]
        staff = aptic_staff(session)
        session.commit()
        maps_api.refresh_coverage(session)
        session.commit()
        ids = {"venue": venues[0].id, "staff": staff.email}
    engine.dispose()
    return ids


# Each page's map: its own boundary layer (SVG paths in the boundaries pane, from /api/v1/map/boundaries)
# and its data (venue markers; prefer_canvas draws the choropleths and the coverage's venues on a canvas).
BOUNDARIES = ".leaflet-apticBoundaries-pane svg path"
PAGES = [
    ("/?q=Cahors", ".leaflet-marker-icon, .marker-cluster"),
    ("/lieux/{venue}", ".leaflet-marker-icon, .marker-cluster"),
    ("/couverture/departement/46", ".leaflet-overlay-pane canvas"),
    ("/qualification/densite", ".leaflet-overlay-pane canvas"),
]
WIDTHS = (1280, 360)


def _visit_all(browser, base: str, ids: dict, allowed_host: str | None,
               screenshots: Path | None = None) -> tuple[list[str], list[str], list[str]]:
    """Visit the pages; return console errors, requests to other hosts, and drawn-map failures."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors, foreign = [], []
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))

    def route(route) -> None:
        url = route.request.url
        if url.startswith(base) or (allowed_host and url.startswith(allowed_host)):
            route.continue_()
        else:
            foreign.append(f"{route.request.resource_type} {url}")
            route.abort()

    page.route("**/*", route)
    page.goto(base + "/connexion")
    page.get_by_label("Courriel").fill(ids["staff"])
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    undrawn = []
    for width in WIDTHS if screenshots else WIDTHS[:1]:
        page.set_viewport_size({"width": width, "height": 900})
        for number, (path, drawn) in enumerate(PAGES):
            page.goto(base + path.format(**ids))
            for selector in (drawn, BOUNDARIES):
                try:
                    page.wait_for_selector(f".leaflet-container :is({selector})", state="attached")
                except PlaywrightTimeout:
                    undrawn.append(f"{path} {selector} at {width} px")
            if screenshots:
                page.wait_for_load_state("networkidle")
                page.locator(".leaflet-container").first.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshots / f"page{number}-{width}px.png"))
    context.close()
    return errors, foreign, undrawn


def test_with_no_other_host_every_map_draws_from_the_platform_alone(browser, world, committed_database_url, tmp_path):
    with served_app(committed_database_url, TILE_URL="https://tuiles.injoignables.test/{z}/{x}/{y}.png") as base:
        errors, foreign, undrawn = _visit_all(browser, base, world, None, screenshots=tmp_path)
    assert not undrawn, f"maps not drawn: {undrawn} {errors} {foreign}"
    # Only tiles may have tried another host: no script, style, font or marker image.
    assert [r for r in foreign if r.split()[0] in ("script", "stylesheet", "font")] == []
    assert all(request.startswith("image https://tuiles.injoignables.test/") for request in foreign), foreign
    # The refused tiles are logged by Chromium as aborted loads (net::ERR_FAILED); nothing else may be.
    assert [e for e in errors if "net::ERR_FAILED" not in e] == []


def test_tiles_come_from_the_configured_host(browser, world, committed_database_url, tile_server):
    with served_app(committed_database_url, TILE_URL=tile_server + "/{z}/{x}/{y}.png") as base:
        errors, foreign, undrawn = _visit_all(browser, base, world, tile_server)
    assert not undrawn and not foreign and not errors, (undrawn, foreign, errors)
    assert len(_TileHandler.served) > 4
