"""Scanning through network cuts: a delivery named by an idempotency key is taken once whenever it is
sent again; in a real Chromium cut from the network, the scan page (served by its service worker)
queues three scans and sends them when the network is back: two accepted, one refused, no duplicate."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.db import make_engine
from redemption import redemptions
from redemption.errors import AlreadyRedeemed
from redemption.models import Redemption, RedemptionCheque
from tests.builders import ACTOR, PASSWORD, bearer, distribute, pass_world, served_app, venue_user


def test_a_delivery_sent_again_with_its_key_gets_the_original_even_hours_later(session, world):
    distribute(session, world, 0)
    code = world.codes(0)[0]
    first, created = redemptions.redeem(session, ACTOR, world.venue, [code], "premiers-pas", idempotency_key="file-0001")
    later = first.created_at + timedelta(hours=5)
    again, created_again = redemptions.redeem(session, ACTOR, world.venue, [code], "premiers-pas", now=later,
                                              idempotency_key="file-0001")
    assert created and not created_again and again.id == first.id
    # Without its key, five hours later, the same cheque is a second scan: refused.
    with pytest.raises(AlreadyRedeemed):
        redemptions.redeem(session, ACTOR, world.venue, [code], "premiers-pas", now=later)


def test_keys_over_http(client, session, world):
    distribute(session, world, 0)
    session.commit()
    codes = world.codes(0)
    body = {"codes": [codes[0]], "service": "premiers-pas", "idempotency_key": "a1b2c3d4-e5f6"}
    first = client.post("/api/v1/redemptions", json=body, headers=bearer(world))
    replay = client.post("/api/v1/redemptions", json=body, headers=bearer(world))
    assert (first.status_code, replay.status_code) == (201, 200) and first.get_json()["id"] == replay.get_json()["id"]
    other = client.post("/api/v1/redemptions", json={**body, "codes": [codes[1]]}, headers=bearer(world))
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    bad = client.post("/api/v1/redemptions", json={**body, "idempotency_key": "x"}, headers=bearer(world))
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "idempotency_key"
    assert session.scalar(select(func.count()).select_from(Redemption)) == 1


def _until(page, expression: str, seconds: float = 20.0) -> None:
    """Wait until the expression holds (the page's CSP forbids Playwright's own wait_for_function)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(100)


@pytest.mark.browser
def test_three_scans_queued_offline_are_sent_when_the_network_is_back(browser, committed_database_url):
    engine = make_engine(committed_database_url)
    with Session(engine, expire_on_commit=False) as session:
        world = pass_world(session)
        for index in range(3):
            distribute(session, world, index)
        venue_user(session, world)
        codes = [world.codes(index)[0] for index in range(3)]
        # The third cheque was already cashed elsewhere, before the cut.
        redemptions.redeem(session, ACTOR, world.other_venue, [codes[2]], "premiers-pas")
        session.commit()
        venue_id = world.venue.id
    with served_app(committed_database_url, RATELIMIT_ENABLED=False) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/connexion")
        page.fill("input[name=email]", "accueil@mediatheque-bordeaux.fr")
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.goto(f"{base}/pass/scanner")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now under the service worker's control, which keeps a copy of the page
        _until(page, "navigator.serviceWorker.controller !== null")
        page.select_option("#service", "premiers-pas")
        context.set_offline(True)
        page.reload()
        assert page.locator("#scan-form").is_visible()  # served offline by the service worker
        page.select_option("#service", "premiers-pas")
        page.fill("#code", "ABCDE-FGHJK-MNPQ")
        page.press("#code", "Enter")
        assert "n'est pas un code de chèque valide" in page.locator("#code-error").inner_text()
        for code in codes:
            page.fill("#code", code)
            page.press("#code", "Enter")
        _until(page, "document.querySelectorAll('#offline-items li[data-state=pending]').length === 3")
        assert "3 scans attendent" in page.locator("#offline-status").inner_text()
        context.set_offline(False)
        _until(page, "document.querySelectorAll('#offline-items li[data-state=pending]').length === 0")
        states = page.eval_on_selector_all("#offline-items li", "items => items.map(i => [i.dataset.state, i.dataset.code || ''])")
        assert states == [["accepted", ""], ["accepted", ""], ["refused", "already_redeemed"]]
        context.close()
    with Session(engine) as session:
        lines = session.execute(
            select(RedemptionCheque.cheque_id, func.count()).group_by(RedemptionCheque.cheque_id)).all()
        at_venue = session.scalar(select(func.count()).select_from(Redemption).where(Redemption.venue_id == venue_id))
    engine.dispose()
    assert at_venue == 2 and all(count == 1 for _, count in lines) and len(lines) == 3
