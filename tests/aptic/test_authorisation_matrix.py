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
from tests.builders import PASSWORD, two_of_each_kind

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
    ("GET", "/api/v1/venues/nearby?lat=44.84&lon=-0.58", "maps_api.nearby"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/venues/{venue}", "maps_api.venue"):         (200, 200, 200, 200, 200, 200, 200, 200),
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
    ("GET", "/territoires/departement/33", "maps.territory_page"): (200, 200, 200, 200, 200, 200, 200, 200),
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
    # venue tools: its own venues only
    ("GET", "/pass/scanner", "redemption.scan"):                 (L, 403, 403, 403, 403, 403, 200, 200),
    ("POST", "/pass/scanner", "redemption.scan"):                (L, 403, 403, 403, 403, 403, 422, 422),
    # venue A's staff cancels its redemption from the page; then the API finds it already cancelled
    ("POST", "/pass/encaissements/{redemption}/annuler", "redemption.scan_cancel"): (L, 403, 403, 403, 403, 403, 302, 404),
    ("POST", "/api/v1/redemptions", "redemption_api.create_redemption"): (401, 401, 401, 401, 401, 401, 422, 422),
    ("POST", "/api/v1/redemptions/{redemption}/cancel", "redemption_api.cancel_redemption"): (401, 401, 401, 401, 401, 401, 409, 404),
    # applications: staff, or the applicant organisation
    ("GET", "/qualification/dossiers/{application}", "qualification.application_page"): (L, 200, 403, 403, 403, 403, 200, 403),
    ("POST", "/qualification/dossiers/{application}/banque", "qualification.bank_details"): (L, 422, 403, 403, 403, 403, 422, 403),
    ("POST", "/qualification/dossiers/{application}/depot", "qualification.submit"): (L, 409, 403, 403, 403, 403, 409, 403),
    ("POST", "/qualification/dossiers/{application}/documents", "qualification.upload_document"): (L, 422, 403, 403, 403, 403, 422, 403),
    ("POST", "/qualification/dossiers/{application}/lieux", "qualification.add_site"): (L, 422, 403, 403, 403, 403, 422, 403),
    ("POST", "/qualification/dossiers/{application}/instruction", "qualification.staff_action"): (L, 422, 403, 403, 403, 403, 403, 403),
    # APTIC staff back office
    ("GET", "/qualification/", "qualification.back_office"):     (L, 200, 403, 403, 403, 403, 403, 403),
    ("GET", "/qualification/densite", "qualification.density"):  (L, 200, 403, 403, 403, 403, 403, 403),
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

UNLISTED_ENDPOINTS = {"static", "aptic.static", "aptic.vendor", "maps.static"}


@pytest.fixture
def matrix_app(database_url: str, connection: Connection, tmp_path) -> Flask:
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "QUALIFICATION_UPLOAD_DIR": str(tmp_path)})
    app.extensions["aptic.db"].bind_to(connection)
    return app


def _client(app: Flask, role: str, cast) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        response = client.post("/connexion", data={"email": cast.users[role].email, "password": PASSWORD})
        assert response.status_code == 302
    return client


def test_every_role_reaches_exactly_its_routes(matrix_app: Flask, session: Session) -> None:
    cast = two_of_each_kind(session)
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
