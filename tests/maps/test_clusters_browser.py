"""The public map in a real Chromium with hundreds of venues in view: the server's clusters are drawn as
keyboard-reachable circles with their count in French, Enter zooms into one, and the venues appear.

The page is cut off from the world (only the app answers). The Content-Security-Policy forbids
`wait_for_function` (it evaluates a string): the page is polled with `page.evaluate`.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from directory import factories
from directory.db import make_engine, point_wkt
from directory.models import Venue
from tests.builders import served_app

pytestmark = pytest.mark.browser
CLUSTERS = ".aptic-cluster"
VENUE_MARKERS = ".leaflet-marker-pane .leaflet-marker-icon:not(.aptic-cluster)"


@pytest.fixture
def crowded_lyon(committed_database_url: str) -> Iterator[str]:
    """600 synthetic venues (about 480 published) moved into Lyon, served by a real local server."""
    engine = make_engine(committed_database_url)
    with Session(engine) as session:
        ids = factories.generate_venues(session, 600, seed=7)
        rng = random.Random(7)
        session.execute(update(Venue), [
            {"id": vid, "location": point_wkt(rng.uniform(4.80, 4.90), rng.uniform(45.72, 45.80))} for vid in ids
        ])
        session.commit()
    engine.dispose()
    with served_app(committed_database_url) as base_url:
        yield base_url


def poll(page, expression: str, timeout_s: float = 15):
    """The value of `expression` in the page once truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"still false after {timeout_s} s: {expression}")


def offline_page(browser, base_url: str, **options):
    page = browser.new_page(**options)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
    page.set_default_timeout(15_000)
    return page


def status(page) -> str:
    return " ".join(page.locator("#map-status").inner_text().split())


@pytest.mark.parametrize("width", [1280, 360])
def test_clusters_at_a_wide_view_then_venues_after_zooming_in(browser, crowded_lyon, width, tmp_path):
    page = offline_page(browser, crowded_lyon, viewport={"width": width, "height": 800})
    page.goto(crowded_lyon + "/embed?territoire=69123")
    poll(page, f"document.querySelectorAll('{CLUSTERS}').length > 0")
    text = status(page)
    assert re.fullmatch(r"\d+ lieux dans la zone affichée : \d+ groupes( et \d+ lieux? seuls?)? ; "
                        r"choisissez un groupe pour zoomer\.", text), text
    clusters = page.locator(CLUSTERS)
    labels = clusters.evaluate_all("all => all.map(c => c.getAttribute('aria-label'))")
    assert all(re.fullmatch(r"\d{1,3}( \d{3})* lieux : zoomer sur ce groupe", label) for label in labels), labels
    counts = [int(c.replace("\u202f", "")) for c in clusters.all_inner_texts()]
    assert sum(counts) <= int(text.split()[0]) and max(counts) > 1
    target = Path(os.environ.get("APTIC_SCREENSHOT_DIR", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"clusters-embed-{width}px.png"))

    biggest = clusters.nth(counts.index(max(counts)))
    assert biggest.get_attribute("role") == "button" and biggest.get_attribute("tabindex") == "0"
    before = page.evaluate("document.querySelector('.aptic-cluster') !== null && location.href")
    biggest.focus()
    page.keyboard.press("Enter")
    # Zoomed into the cluster's box: few enough venues in view to show them one by one.
    poll(page, f"document.querySelectorAll('{CLUSTERS}').length === 0 && "
               f"document.querySelectorAll('{VENUE_MARKERS}').length > 0")
    assert before == page.url  # the map zoomed; the page stayed
    assert re.fullmatch(r"\d+ lieux? dans la zone affichée\.", status(page)), status(page)
    page.screenshot(path=str(target / f"clusters-zoomed-{width}px.png"))
