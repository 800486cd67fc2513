"""The Content-Security-Policy in a real Chromium: the main pages of each audience run without a
single inline script, style or handler being refused (every one carries the response's nonce)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from aptic import create_app
from directory.db import make_engine
from directory.models import Venue
from tests.builders import CAHORS, PASSWORD, publish_venue, two_of_each_kind

pytestmark = pytest.mark.browser
LISTEN = """window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});"""


@pytest.fixture
def live(committed_database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    engine = make_engine(committed_database_url)
    with Session(engine, expire_on_commit=False) as session:
        cast = two_of_each_kind(session)
        venue = publish_venue(session, *CAHORS, nom="Médiathèque de Cahors")
        session.get(Venue, cast.ids["venue"]).published = True
        session.commit()
        ids = {**cast.ids, "public_venue": venue.id,
               "emails": {role: user.email for role, user in cast.users.items()}}
    engine.dispose()
    app = create_app({"DATABASE_URL": committed_database_url, "SECRET_KEY": "browser-test",
                      "QUALIFICATION_UPLOAD_DIR": str(tmp_path)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ids
    finally:
        server.shutdown()
        thread.join()
        app.extensions["aptic.db"].engine.dispose()



PAGES = {
    None: ["/", "/?q=Cahors", "/lieux/{public_venue}", "/territoires", "/territoires/departement/46", "/embed",
           "/connexion", "/lieux/{public_venue}/signaler"],
    "staff": ["/compte", "/qualification/", "/qualification/densite", "/qualification/dossiers/{application}",
              "/organisations", "/comptes", "/comptes/nouveau", "/cles-api", "/pass/commandes"],
    "sponsor": ["/pass/commandes", "/pass/commandes/{order}"],
    "distributor": ["/pass/distribution"],
    "venue": ["/pass/scanner", "/cles-api", "/compte/mot-de-passe"],
}


def test_no_page_of_any_role_breaks_the_policy(browser, live):
    base, ids = live
    refused = []
    for role, paths in PAGES.items():
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        # No internet here: only the app itself answers.
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        page.add_init_script(LISTEN)
        if role:
            page.goto(base + "/connexion")
            page.get_by_label("Courriel").fill(ids["emails"][role])
            page.get_by_label("Mot de passe").fill(PASSWORD)
            page.get_by_role("button", name="Se connecter").click()
            page.wait_for_load_state()
        for path in paths:
            url = base + path.format(**ids)
            response = page.goto(url)
            assert response.status < 400, (role, path, response.status)
            page.wait_for_timeout(150)
            # Third-party hosts (a CDN) are another matter, aborted here anyway: inline code is what the nonce covers.
            refused += [f"{role or 'anonyme'} {path}: {v}" for v in page.evaluate("window.__csp")
                        if " inline " in v or v.split(" ")[1].startswith(base)]
        context.close()
    assert not refused, "\n".join(refused)
