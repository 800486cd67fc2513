"""The search box in a real headless Chromium: the ARIA combobox over /api/v1/adresses (communes and a
BAN-like local geocoder) and "Autour de moi" with the context's geolocation permission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from directory import api
from directory.db import make_engine
from tests.ban_server import BanServer
from tests.builders import offset, publish_venue, served_app

pytestmark = pytest.mark.browser


@pytest.fixture
def served(committed_database_url: str, ban: BanServer) -> Iterator[tuple[str, tuple[float, float]]]:
    engine = make_engine(committed_database_url)
    with Session(engine) as session:
        lyon = api.resolve_place(session, "Lyon")
        for metres, name in [(300, "Médiathèque de Bellecour"), (1_500, "Centre social du Rhône")]:
            publish_venue(session, *offset(lyon.lon, lyon.lat, metres), nom=name)
        session.commit()
    engine.dispose()
    with served_app(committed_database_url, GEOCODER_URL=ban.url) as base_url:
        yield base_url, (lyon.lon, lyon.lat)


def test_autocomplete_and_autour_de_moi(browser, served, ban):
    base_url, (lon, lat) = served
    context = browser.new_context(geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"])
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
    page.set_default_timeout(15_000)
    page.goto(base_url + "/")

    box = page.get_by_role("combobox", name="Commune, code postal ou adresse")
    assert box.get_attribute("aria-expanded") == "false"
    box.press_sequentially("quimp")
    option = page.get_by_role("option", name="Quimper (29)")
    option.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == page.get_by_role("option").first.get_attribute("id")
    box.press("Enter")
    assert box.input_value() == "Quimper (29)" and box.get_attribute("aria-expanded") == "false"

    box.fill("")
    box.press_sequentially("1 place Bell")
    page.get_by_role("option", name="1 place Bellecour 69002 Lyon").click()
    assert page.locator("#search-lat").is_enabled()
    page.get_by_role("button", name="Rechercher", exact=True).click()
    page.wait_for_url("**lat=*")
    heading = " ".join(page.locator("#results-title").inner_text().split())
    assert "à moins de 10 km de 1 place Bellecour 69002 Lyon" in heading
    # the chosen address came with its point: only the autocomplete asked the geocoder
    assert [kind for kind, _ in ban.requests] == ["search"] * len(ban.requests)
    assert all("Bell" in query for _, query in ban.requests)

    page.goto(base_url + "/")
    near_me = page.get_by_role("button", name="Autour de moi")
    near_me.click()
    page.wait_for_url("**lat=*")
    heading = " ".join(page.locator("#results-title").inner_text().split())
    assert heading.startswith("2 lieux à moins de 10 km de votre position")
    assert page.locator(".venue-card .venue-name").all_inner_texts() == ["Médiathèque de Bellecour",
                                                                         "Centre social du Rhône"]
    context.close()


def test_autour_de_moi_is_hidden_without_geolocation(browser, served):
    base_url, _ = served
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script("delete Navigator.prototype.geolocation")
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
    page.goto(base_url + "/")
    assert page.locator("#near-me").is_hidden()
    context.close()
