"""The edge of the app (issue 16): security headers, proxies, id ranges, control characters, 405, OpenAPI servers."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from aptic import create_app
from tests.builders import CAHORS, PASSWORD, csrf_token_from, publish_venue, sign_in


def _app(database_url: str, connection: Connection, **overrides) -> Flask:
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", **overrides})
    app.extensions["aptic.db"].bind_to(connection)
    return app


def test_pages_carry_a_strict_policy_and_cannot_be_framed(client):
    first, second = client.get("/"), client.get("/connexion")
    policy = first.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "img-src 'self' data: https://data.geopf.fr" in policy
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert first.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in first.headers
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert nonce not in second.headers["Content-Security-Policy"]  # one per response
    # Every script of the page carries the response's nonce.
    scripts = re.findall(r"<script\b[^>]*>", first.get_data(as_text=True))
    assert scripts and all(f'nonce="{nonce}"' in tag or "src=" in tag for tag in scripts)
    assert not re.search(r"\son[a-z]+=\"", first.get_data(as_text=True))
    assert client.get("/api/v1/openapi.json").headers["X-Content-Type-Options"] == "nosniff"


def test_the_embed_page_stays_frameable_by_the_allowed_sites(database_url, connection):
    app = _app(database_url, connection, EMBED_ANCESTORS="https://www.exemple-mairie.fr")
    response = app.test_client().get("/embed")
    assert response.status_code == 200
    assert "frame-ancestors https://www.exemple-mairie.fr" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


def test_hsts_and_the_tile_host_follow_the_settings(database_url, connection):
    app = _app(database_url, connection, SESSION_COOKIE_SECURE=True, TILE_URL="https://{s}.tuiles.exemple.fr/{z}/{x}/{y}.png")
    response = app.test_client().get("/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "img-src 'self' data: https://*.tuiles.exemple.fr;" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/api/v1/venues/9223372036854775808", "/api/v1/venues/2147483648",
                                  "/lieux/99999999999999999999", "/lieux/2147483648/signaler",
                                  "/api/v1/redemptions/9223372036854775808/cancel"])
def test_ids_beyond_the_database_range_are_unknown_not_errors(client, path):
    method = "POST" if path.endswith("cancel") else "GET"
    response = client.open(path, method=method, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_signed_in_user_gets_404_for_a_huge_order_id(client, session):
    from tests.builders import two_of_each_kind

    cast = two_of_each_kind(session)
    session.commit()
    sign_in(client, cast.users["sponsor"].email)
    assert client.get("/pass/commandes/9223372036854775808").status_code == 404


def test_control_characters_are_refused_naming_the_field(client, session):
    venue = publish_venue(session, *CAHORS)
    session.commit()
    nearby = client.get("/api/v1/venues/nearby?q=Cahors%00&lat=44.4&lon=1.4")
    assert nearby.status_code == 400
    assert nearby.get_json()["error"] == {
        "code": "control_character", "field": "q",
        "message": "Le champ « q » contient un caractère de contrôle (ex. octet nul) : retirez-le."}
    body = client.post("/api/v1/redemptions", json={"codes": ["AB\u0000CD"], "service": "premiers-pas"})
    assert body.status_code == 400 and body.get_json()["error"]["field"] == "codes"
    path = client.get("/api/v1/territories/commune/460%0042")
    assert path.status_code == 400 and path.get_json()["error"]["field"] == "code"
    token = csrf_token_from(client.get(f"/lieux/{venue.id}/signaler").get_data(as_text=True))
    form = client.post(f"/lieux/{venue.id}/signaler", data={"csrf_token": token, "topic": "horaires",
                                                             "message": "Fermé\x00 le lundi"})
    assert form.status_code == 400
    assert "« message » contient un caractère de contrôle" in form.get_data(as_text=True).replace("&#34;", '"')
    # Line breaks and tabs in a text are ordinary.
    newline = client.get("/api/v1/venues/nearby?q=Cahors%0A", headers={"Accept": "application/json"})
    assert (newline.get_json().get("error") or {}).get("code") != "control_character"


def test_a_wrong_method_is_answered_405_with_allow(client):
    response = client.delete("/api/v1/venues/1")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET"}
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_openapi_servers_come_from_the_setting_never_from_the_host_header(database_url, connection, client):
    forged = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert forged["servers"] == [{"url": "/"}]
    app = _app(database_url, connection, PUBLIC_URL="https://carte.aptic.fr/")
    document = app.test_client().get("/api/v1/openapi.json", headers={"Host": "evil.example"}).get_json()
    assert document["servers"] == [{"url": "https://carte.aptic.fr"}]


def test_every_operation_lists_its_edge_errors(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert {"400", "500", "503"} <= set(operation["responses"]), (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
            assert "default" not in operation["responses"]


def test_a_body_above_the_upload_cap_is_refused_before_being_read(client):
    response = client.post("/connexion", data=b"x" * (11 * 1024 * 1024), content_type="application/octet-stream",
                           headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_behind_a_trusted_proxy_sign_in_failures_lock_out_only_their_client(database_url, connection, session):
    from directory import api as directory_api
    from tests.builders import ACTOR

    directory_api.create_user(session, ACTOR, email="camille@exemple.fr", full_name="Camille", password=PASSWORD)
    session.commit()
    app = _app(database_url, connection, TRUSTED_PROXIES=1)
    attacker, colleague = app.test_client(), app.test_client()

    def attempt(client, address, password):
        page = client.get("/connexion", headers={"X-Forwarded-For": address}).get_data(as_text=True)
        return client.post("/connexion", headers={"X-Forwarded-For": address}, data={
            "csrf_token": csrf_token_from(page), "email": "camille@exemple.fr", "password": password}).status_code

    assert [attempt(attacker, "203.0.113.9", "mauvais mot de passe") for _ in range(11)][-1] == 429
    assert attempt(colleague, "203.0.113.10", PASSWORD) == 302


def test_a_nul_byte_in_distribution_or_an_oversized_upload_is_a_clear_4xx(client, session):
    from tests.builders import two_of_each_kind

    cast = two_of_each_kind(session)
    session.commit()
    sign_in(client, cast.users["distributor"].email)
    token = csrf_token_from(client.get("/pass/distribution").get_data(as_text=True))
    response = client.post("/pass/distribution", data={"csrf_token": token, "booklet": "AB12",
                                                        "nom": "BEN\x00-1"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "nom"
    client.post("/deconnexion", data={"csrf_token": token})
    sign_in(client, cast.users["venue"].email)
    page = client.get(f"/qualification/dossiers/{cast.ids['application']}").get_data(as_text=True)
    upload = client.post(f"/qualification/dossiers/{cast.ids['application']}/documents",
                         data={"csrf_token": csrf_token_from(page), "kind": "statuts",
                               "file": (io.BytesIO(b"%PDF" + b"0" * (11 * 1024 * 1024)), "gros.pdf")},
                         content_type="multipart/form-data")
    assert upload.status_code == 413
    assert "L'envoi dépasse la taille maximale acceptée (10 Mo)" in unescape(upload.get_data(as_text=True))
