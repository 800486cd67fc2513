"""Who reaches what: every route × every role, with a second organisation of each kind.

One table says the expected status of each cell. Objects in the URLs belong to organisation A
(its order, application, redemption, venue, API key); the `_b` roles are users of another
organisation of the same kind, who must not reach them. CSRF is off here: it is tested on its own,
this table is about authorisation. A new route must be added to the table (a test says which).
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from aptic import create_app
from directory.models import Venue
from qualification import api as qualification_api
from qualification.models import Application
from tests.builders import ACTOR, PASSWORD, add_cofunding, two_of_each_kind

ROLES = ("anonymous", "staff", "sponsor", "sponsor_b", "distributor", "distributor_b", "venue", "venue_b")
L = 302  # anonymous sent to the sign-in page

# (method, path, endpoint): statuses in ROLES order.
MATRIX: dict[tuple[str, str, str], tuple[int, ...]] = {
    # public pages and API
    ("GET", "/", "maps.home"):                                   (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/healthz", "aptic.healthz"):                        (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/openapi.json", "aptic.openapi"):            (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/map/counts", "maps_api.map_counts"):        (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/map/venues?bbox=-1,44,0,45", "maps_api.map_venues"):        (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/map/boundaries?zoom=5", "directory_api.map_boundaries"):        (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/venues/nearby?lat=44.84&lon=-0.58", "maps_api.nearby"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/venues/{venue}", "maps_api.venue"):         (200, 200, 200, 200, 200, 200, 200, 200),
    # s13: autocomplete (communes offline here), orientation flow and its printable sheet, public to all
    ("GET", "/api/v1/adresses?q=quimp", "maps_api.place_suggestions_view"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/orientation?besoin=courriels&sait=bases&q=Bordeaux", "maps.orientation"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/orientation/fiche/{venue}?besoin=courriels", "maps.orientation_sheet"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/territories/departement/33", "maps_api.territory"): (200, 200, 200, 200, 200, 200, 200, 200),
    # coverage is public; before its first refresh it answers 503 coverage_not_ready to everyone alike
    ("GET", "/api/v1/territories/departement/33/coverage", "maps_api.coverage"): (503, 503, 503, 503, 503, 503, 503, 503),
    ("GET", "/couverture/departement/33", "maps.coverage_page"): (503, 503, 503, 503, 503, 503, 503, 503),
    ("GET", "/couverture/departement/33/export.csv", "maps.coverage_csv"): (503, 503, 503, 503, 503, 503, 503, 503),
    ("GET", "/couverture/departement/33/export.geojson", "maps.coverage_geojson"): (503, 503, 503, 503, 503, 503, 503, 503),
    ("GET", "/lieux/{venue}", "maps.venue_page"):                (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/lieux/{venue}/signaler", "maps.report_error"):     (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/lieux/{venue}/signaler", "maps.report_error"):    (422, 422, 422, 422, 422, 422, 422, 422),
    ("GET", "/embed", "maps.embed"):                             (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/territoires", "maps.territories"):                 (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/donnees/", "ingestion.publication_page"):          (200, 200, 200, 200, 200, 200, 200, 200),
    # no publication in the test instance: the files answer 404 to everyone alike
    ("GET", "/donnees/metadonnees.json", "ingestion.publication_file"): (404, 404, 404, 404, 404, 404, 404, 404),
    ("GET", "/territoires/departement/33", "maps.territory_page"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/accessibilite", "info.accessibility"):             (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/mentions-legales", "info.legal_notices"):          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/comment-ca-marche", "info.how_it_works"):          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/comment-ca-marche/lieu", "info.how_it_works_for"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/connexion", "directory.login"):                    (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/connexion", "directory.login"):                   (400, 400, 400, 400, 400, 400, 400, 400),
    # any signed-in user
    ("GET", "/compte", "directory.account"):                     (L, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/qualification/mes-dossiers", "qualification.my_applications"): (L, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/qualification/dossiers", "qualification.new_application"): (L, 403, 403, 403, 403, 403, 403, 403),
    # organisations: staff, or members of the organisation
    ("GET", "/organisations/{organisation}", "directory.organisation"): (L, 200, 403, 403, 403, 403, 200, 403),
    ("GET", "/organisations/nouvelle", "directory.new_organisation"): (L, 200, 403, 403, 403, 403, 403, 403),
    ("POST", "/organisations/nouvelle", "directory.new_organisation"): (L, 422, 403, 403, 403, 403, 403, 403),
    # sponsor tools: its own orders; staff every order
    ("GET", "/pass/commandes", "redemption.orders"):             (L, 200, 200, 200, 403, 403, 403, 403),
    ("GET", "/pass/commandes/{order}", "redemption.order_report"): (L, 200, 200, 403, 403, 403, 403, 403),
    ("GET", "/pass/commandes/{order}/rapport.csv", "redemption.order_report_csv"): (L, 200, 200, 403, 403, 403, 403, 403),
    # the scan page's service worker is a static script: anyone may fetch it, the page it serves is staff's
    ("GET", "/pass/scanner-sw.js", "redemption.scan_service_worker"): (200, 200, 200, 200, 200, 200, 200, 200),
    # printing the booklets (their cheque codes): APTIC staff only
    ("GET", "/pass/commandes/{order}/carnets.pdf", "redemption.order_booklets_pdf"): (L, 200, 403, 403, 403, 403, 403, 403),
    # State co-funding: sponsors apply and follow their own applications; staff (for the funder) open, close, decide.
    # Staff closes A's call first (roles run in order), so A's submission then meets `call_not_open` (409).
    ("GET", "/pass/appels", "redemption.cofunding_calls"):       (L, 200, 200, 200, 403, 403, 403, 403),
    ("POST", "/pass/appels", "redemption.cofunding_calls"):      (L, 422, 403, 403, 403, 403, 403, 403),
    ("GET", "/pass/appels/{call}", "redemption.cofunding_call"): (L, 200, 200, 200, 403, 403, 403, 403),
    ("GET", "/pass/appels/{call}/suivi.csv", "redemption.cofunding_call_csv"): (L, 200, 200, 200, 403, 403, 403, 403),
    ("POST", "/pass/appels/{call}/cloture", "redemption.cofunding_close_call"): (L, 302, 403, 403, 403, 403, 403, 403),
    ("POST", "/pass/appels/{call}/candidatures", "redemption.cofunding_apply"): (L, 403, 422, 422, 403, 403, 403, 403),
    ("GET", "/pass/candidatures/{cofunding_application}", "redemption.cofunding_application"): (L, 200, 200, 403, 403, 403, 403, 403),
    ("POST", "/pass/candidatures/{cofunding_application}", "redemption.cofunding_application"): (L, 403, 302, 403, 403, 403, 403, 403),
    ("POST", "/pass/candidatures/{cofunding_application}/depot", "redemption.cofunding_submit"): (L, 403, 409, 403, 403, 403, 403, 403),
    ("POST", "/pass/candidatures/{cofunding_application}/decision", "redemption.cofunding_decide"): (L, 422, 403, 403, 403, 403, 403, 403),
    ("GET", "/api/v1/cofunding/calls", "redemption_api.api_cofunding_calls"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/cofunding/calls/{call}/follow-up", "redemption_api.api_cofunding_follow_up"): (401, 200, 200, 200, 403, 403, 403, 403),
    ("GET", "/api/v1/cofunding/applications/{cofunding_application}", "redemption_api.api_cofunding_application"): (401, 200, 200, 403, 403, 403, 403, 403),
    ("POST", "/api/v1/cofunding/applications/{cofunding_application}/decision", "redemption_api.api_cofunding_decide"): (401, 422, 403, 403, 403, 403, 403, 403),
    # journeys of an order's booklets: its sponsor and staff (the API answers a missing session with 401)
    ("GET", "/pass/commandes/{order}/parcours", "redemption.order_journeys_page"): (L, 200, 200, 403, 403, 403, 403, 403),
    ("GET", "/pass/commandes/{order}/parcours.csv", "redemption.order_journeys_csv"): (L, 200, 200, 403, 403, 403, 403, 403),
    ("GET", "/api/v1/orders/{order}/journeys", "redemption_api.order_journeys_api"): (401, 200, 200, 403, 403, 403, 403, 403),
    # vigilance: signals, control plan and a venue's history are staff's (unknown signal or control: 404)
    ("GET", "/pass/signaux", "redemption.signals_page"):         (L, 200, 403, 403, 403, 403, 403, 403),
    ("POST", "/pass/signaux/calcul", "redemption.compute_signals_now"): (L, 302, 403, 403, 403, 403, 403, 403),
    ("POST", "/pass/signaux/999999/statut", "redemption.mark_signal"): (L, 404, 403, 403, 403, 403, 403, 403),
    ("GET", "/pass/controles", "redemption.controls_page"):      (L, 200, 403, 403, 403, 403, 403, 403),
    ("POST", "/pass/controles/proposition", "redemption.propose_controls"): (L, 302, 403, 403, 403, 403, 403, 403),
    ("POST", "/pass/controles/999999/resultat", "redemption.control_outcome"): (L, 404, 403, 403, 403, 403, 403, 403),
    ("GET", "/pass/lieux/{venue}/vigilance", "redemption.venue_vigilance"): (L, 200, 403, 403, 403, 403, 403, 403),
    # venue statements: venue staff see their venues' (another operator's is unknown to them), staff see all
    ("GET", "/pass/releves", "redemption.statements"):           (L, 200, 403, 403, 403, 403, 200, 200),
    ("GET", "/pass/releves/{statement}", "redemption.statement_detail"): (L, 200, 403, 403, 403, 403, 200, 404),
    ("GET", "/pass/releves/{statement}/releve.pdf", "redemption.statement_pdf"): (L, 200, 403, 403, 403, 403, 200, 404),
    ("GET", "/pass/releves/{statement}/releve.csv", "redemption.statement_csv"): (L, 200, 403, 403, 403, 403, 200, 404),
    # distributor tools
    ("GET", "/pass/distribution", "redemption.distribution"):    (L, 403, 403, 403, 200, 200, 403, 403),
    ("POST", "/pass/distribution", "redemption.distribution"):   (L, 403, 403, 403, 404, 404, 403, 403),
    ("GET", "/pass/distribution/remises", "redemption.distributing.handed_out_page"): (L, 403, 403, 403, 200, 200, 403, 403),
    # A's booklet has a cheque used: its distributor may not undo (409); another distributor is refused (403)
    ("POST", "/pass/distribution/remises/{booklet}/annuler", "redemption.distributing.undo"): (L, 403, 403, 403, 409, 403, 403, 403),
    ("POST", "/pass/commandes/{order}/aiguilleurs", "redemption.distributing.allow"): (L, 422, 422, 403, 403, 403, 403, 403),
    # the venue operator was never allowed on A's order: nothing to withdraw (404)
    ("POST", "/pass/commandes/{order}/aiguilleurs/{organisation}/retirer", "redemption.distributing.revoke"): (L, 404, 404, 403, 403, 403, 403, 403),
    ("GET", "/pass/droit-d-encaisser", "redemption.distributing.redeeming_right"): (L, 200, 403, 403, 403, 403, 403, 403),
    ("POST", "/pass/droit-d-encaisser", "redemption.distributing.redeeming_right"): (L, 422, 403, 403, 403, 403, 403, 403),
    # venue tools: its own venues only
    ("GET", "/pass/scanner", "redemption.scan"):                 (L, 403, 403, 403, 403, 403, 200, 200),
    ("POST", "/pass/scanner", "redemption.scan"):                (L, 403, 403, 403, 403, 403, 422, 422),
    # venue A's staff cancels its redemption from the page; then the API finds it already cancelled
    ("POST", "/pass/encaissements/{redemption}/annuler", "redemption.scan_cancel"): (L, 403, 403, 403, 403, 403, 302, 404),
    ("POST", "/api/v1/redemptions", "redemption_api.create_redemption"): (401, 401, 401, 401, 401, 401, 422, 422),
    ("POST", "/api/v1/redemptions/{redemption}/cancel", "redemption_api.cancel_redemption"): (401, 401, 401, 401, 401, 401, 409, 404),
    # distributors allowed on A's order: its sponsor (signed in, or its API key) and staff; the venue organisation is no distributor
    ("GET", "/api/v1/orders/{order}/distributors", "redemption_api.list_allowances"): (401, 200, 200, 403, 403, 403, 403, 403),
    ("PUT", "/api/v1/orders/{order}/distributors/{organisation}", "redemption_api.put_allowance"): (401, 422, 422, 403, 403, 403, 403, 403),
    ("POST", "/api/v1/orders/{order}/distributors/{organisation}/revoke", "redemption_api.delete_allowance"): (401, 404, 404, 403, 403, 403, 403, 403),
    # applications: staff, or the applicant organisation
    ("GET", "/qualification/dossiers/{application}", "qualification.application_page"): (L, 200, 403, 403, 403, 403, 200, 403),
    ("GET", "/qualification/dossiers/{application}/documents/{document}", "qualification.document_file"): (L, 200, 403, 403, 403, 403, 200, 403),
    ("POST", "/qualification/dossiers/{application}/banque", "qualification.bank_details"): (L, 422, 403, 403, 403, 403, 422, 403),
    ("POST", "/qualification/dossiers/{application}/depot", "qualification.submit"): (L, 409, 403, 403, 403, 403, 409, 403),
    ("POST", "/qualification/dossiers/{application}/documents", "qualification.upload_document"): (L, 422, 403, 403, 403, 403, 422, 403),
    ("POST", "/qualification/dossiers/{application}/lieux", "qualification.add_site"): (L, 422, 403, 403, 403, 403, 422, 403),
    ("POST", "/qualification/dossiers/{application}/instruction", "qualification.staff_action"): (L, 422, 403, 403, 403, 403, 403, 403),
    # APTIC staff back office
    ("GET", "/qualification/", "qualification.back_office"):     (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/qualification/densite", "qualification.density"):  (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/qualification/recommandations/?level=1&territory=departement:33&count=2",
     "qualification.recommendations.page"): (L, 200, 200, 200, 403, 403, 403, 403),
    ("GET", "/qualification/recommandations/recommandations.csv?level=1&territory=departement:33&count=2",
     "qualification.recommendations.csv_download"): (L, 200, 200, 200, 403, 403, 403, 403),
    ("GET", "/qualification/recommandations/liste-attente", "qualification.recommendations.waitlist_orders"):
        (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/api/v1/recommendations?level=1&territory=departement:33&count=2",
     "qualification_api.recommendations_api"): (401, 200, 200, 200, 403, 403, 403, 403),
    ("GET", "/qualification/quotas/", "qualification.quotas.quotas"): (L, 200, 403, 403, 403, 403, 403, 403),
    ("POST", "/qualification/quotas/regle", "qualification.quotas.set_policy"): (L, 422, 403, 403, 403, 403, 403, 403),
    ("POST", "/qualification/quotas/territoires", "qualification.quotas.set_override"): (L, 422, 403, 403, 403, 403, 403, 403),
    ("POST", "/qualification/quotas/territoires/retirer", "qualification.quotas.clear_override"): (L, 422, 403, 403, 403, 403, 403, 403),
    ("GET", "/signalements", "maps.reports"):                    (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/cartographie/reconstructions", "maps.rebuild_runs"): (L, 200, 403, 403, 403, 403, 403, 403),
    # organisations, accounts, API keys (staff; venue staff for its own keys)
    ("GET", "/organisations", "directory.organisations"):        (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/comptes", "directory.users"):                      (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/comptes/nouveau", "directory.new_user"):           (L, 200, 403, 403, 403, 403, 403, 403),
    ("POST", "/comptes/nouveau", "directory.new_user"):          (L, 422, 403, 403, 403, 403, 403, 403),
    # staff deactivates venue A's user, then reactivates it (so that its own column can still sign in)
    ("POST", "/comptes/{user}/desactiver", "directory.deactivate_user"): (L, 302, 403, 403, 403, 403, 403, 403),
    ("POST", "/comptes/{user}/reactiver", "directory.reactivate_user"): (L, 302, 403, 403, 403, 403, 403, 403),
    ("GET", "/compte/mot-de-passe", "directory.change_password"): (L, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/compte/mot-de-passe", "directory.change_password"): (L, 422, 422, 422, 422, 422, 422, 422),
    ("GET", "/cles-api", "directory.api_keys"):                  (L, 200, 403, 403, 403, 403, 200, 200),
    ("POST", "/cles-api", "directory.api_keys"):                 (L, 422, 403, 403, 403, 403, 422, 422),
    ("POST", "/cles-api/{key}/revoquer", "directory.revoke_api_key"): (L, 302, 403, 403, 403, 403, 302, 403),
    # from open data to qualification: venue operators and sponsors claim (a form without its structure is refused), staff invite (an unknown structure is 404)
    ("GET", "/qualification/lieux-ouverts/", "qualification.claims.open_venues"): (L, 200, 200, 200, 403, 403, 200, 200),
    ("GET", "/qualification/lieux-ouverts/{open_venue}", "qualification.claims.open_venue"): (L, 200, 200, 200, 403, 403, 200, 200),
    ("POST", "/qualification/lieux-ouverts/{open_venue}/invitation", "qualification.claims.invite"): (L, 404, 403, 403, 403, 403, 403, 403),
    ("POST", "/qualification/lieux-ouverts/{open_venue}/revendication", "qualification.claims.claim"): (L, 403, 403, 403, 403, 403, 403, 403),
    # last, as each role's client is reused from cell to cell
    ("POST", "/deconnexion", "directory.logout"):                (L, 302, 302, 302, 302, 302, 302, 302),
}

UNLISTED_ENDPOINTS = {"static", "aptic.static", "aptic.vendor", "maps.static", "redemption.static"}


@pytest.fixture
def matrix_app(database_url: str, connection: Connection, tmp_path) -> Flask:
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "QUALIFICATION_UPLOAD_DIR": str(tmp_path),
                      "PUBLICATION_DIR": str(tmp_path / "publication"),
                      "PUBLIC_URL": "https://carte.aptic.test"})  # printed booklets need it
    app.extensions["aptic.db"].bind_to(connection)
    return app


def _client(app: Flask, role: str, cast) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        response = client.post("/connexion", data={"email": cast.users[role].email, "password": PASSWORD})
        assert response.status_code == 302
    return client


def test_every_role_reaches_exactly_its_routes(matrix_app: Flask, session: Session, tmp_path) -> None:
    cast = two_of_each_kind(session)
    add_cofunding(session, cast)
    application = session.get(Application, cast.ids["application"])
    cast.ids["document"] = qualification_api.store_document(
        session, ACTOR, application, "statutes", "statuts.pdf", b"%PDF-1.4 statuts", tmp_path).id
    session.get(Venue, cast.ids["venue"]).published = True
    session.commit()
    observed: dict[tuple[str, str, str], list[int]] = {}
    for role in ROLES:
        client = _client(matrix_app, role, cast)
        for (method, path, endpoint) in MATRIX:
            headers = {}
            if endpoint.startswith("redemption_api.") and role.startswith("venue"):
                headers["Authorization"] = f"Bearer {cast.tokens[role]}"
            response = client.open(path.format(**cast.ids), method=method, headers=headers, json={} if
                                   endpoint.startswith("redemption_api.") else None)
            observed.setdefault((method, path, endpoint), []).append(response.status_code)
    differences = [
        f"{method} {path}: expected {expected}, got {tuple(observed[(method, path, endpoint)])}"
        for (method, path, endpoint), expected in MATRIX.items()
        if tuple(observed[(method, path, endpoint)]) != expected
    ]
    print(f"\nauthorisation matrix: {len(MATRIX)} routes × {len(ROLES)} roles = {len(MATRIX) * len(ROLES)} requests")
    assert not differences, "\n".join(differences)


def test_every_route_is_in_the_matrix(matrix_app: Flask) -> None:
    listed = {(method, endpoint) for method, _, endpoint in MATRIX}
    missing = sorted(
        f"{method} {rule.rule} ({rule.endpoint})"
        for rule in matrix_app.url_map.iter_rules() if rule.endpoint not in UNLISTED_ENDPOINTS
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if (method, rule.endpoint) not in listed
    )
    assert not missing, "routes absent from the authorisation matrix:\n" + "\n".join(missing)
