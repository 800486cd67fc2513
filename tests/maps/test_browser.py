"""A beneficiary's path in a real headless Chromium: search a commune, read the list by distance,
filter by level, open a venue page; on a 360 px wide phone screen too.

The app is served by a real Werkzeug server over committed data. Every request leaving
127.0.0.1 (CDN scripts, map tiles) is aborted: there is no internet in CI, and the list and the
search must work without the map anyway.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from directory import api
from directory.db import make_engine
from tests.builders import offset, publish_venue, served_app

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(committed_database_url: str) -> Iterator[str]:
    engine = make_engine(committed_database_url)
    with Session(engine) as session:
        lyon = api.resolve_place(session, "Lyon")
        for metres, bearing, name, services in [
            (2_200, 180, "Espace emploi de Gerland", ["premiers-pas", "emploi-et-formation"]),
            (350, 90, "Médiathèque de la Presqu'île", ["premiers-pas", "messagerie"]),
            (1_100, 250, "Centre social Saint-Jean", ["acces-equipement"]),
        ]:
            publish_venue(session, *offset(lyon.lon, lyon.lat, metres, bearing), nom=name, services=services)
        session.commit()
    engine.dispose()
    with served_app(committed_database_url) as base_url:
        yield base_url



def offline_page(browser, base_url: str, **options):
    page = browser.new_page(**options)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
    page.set_default_timeout(15_000)
    return page


def test_search_filter_and_open_a_venue(browser, live_server):
    page = offline_page(browser, live_server)
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"

    page.get_by_label("Commune, code postal ou adresse").fill("Lyon")
    page.get_by_role("button", name="Rechercher", exact=True).click()
    page.wait_for_url("**/?q=Lyon*")
    assert "3 lieux à moins de 10 km de Lyon" in " ".join(page.locator("#results-title").inner_text().split())
    names = page.locator(".venue-card .venue-name").all_inner_texts()
    assert names == ["Médiathèque de la Presqu'île", "Centre social Saint-Jean", "Espace emploi de Gerland"]
    distances = [float(d) for d in page.locator(".venue-card").evaluate_all("cards => cards.map(c => c.dataset.distanceM)")]
    assert distances == sorted(distances)

    page.get_by_text("Affiner la recherche").click()
    page.get_by_label("Niveau d'accompagnement").select_option("3")
    page.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url("**level=3*")
    assert page.locator(".venue-card .venue-name").all_inner_texts() == ["Espace emploi de Gerland"]

    page.get_by_role("link", name="Espace emploi de Gerland").click()
    page.wait_for_url("**/lieux/*")
    assert page.locator("h1").inner_text() == "Espace emploi de Gerland"
    assert "du point de recherche" in page.locator("#adresse + address + .distance").inner_text()
    assert page.get_by_role("heading", name="Niveau 3 : Augmenter son pouvoir d'agir grâce au numérique").is_visible()


def test_phone_width_layout(browser, live_server, tmp_path):
    page = offline_page(browser, live_server, viewport={"width": 360, "height": 800}, device_scale_factor=1)
    page.goto(live_server + "/?q=Lyon&radius_km=5")
    assert page.locator(".venue-card").count() == 3
    # Nothing wider than the screen: no horizontal scrolling on a small phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    search_box = page.get_by_label("Commune, code postal ou adresse").bounding_box()
    assert search_box["x"] >= 0 and search_box["x"] + search_box["width"] <= 360
    target = Path(os.environ.get("APTIC_SCREENSHOT_DIR", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / "accueil-360px.png"), full_page=True)
