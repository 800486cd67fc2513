"""Ending sessions, deactivating accounts and revoking API keys, from the pages and the command line."""

from __future__ import annotations

import json
from html import unescape

from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic.cli import cli
from directory import api
from directory.models import ApiKey, User
from tests.builders import PASSWORD, csrf_token_from, sign_in, two_of_each_kind


def run(app, *args, input=None):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app), input=input)


def _redeem(client, token):
    return client.post("/api/v1/redemptions", json={"codes": ["X"], "service": "premiers-pas"},
                       headers={"Authorization": f"Bearer {token}"})


def _post(client, path, data=None, page=None):
    token = csrf_token_from(client.get(page or "/compte").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def test_a_session_cookie_copied_before_sign_out_opens_nothing_after(app, session):
    cast = two_of_each_kind(session)
    session.commit()
    browser = app.test_client()
    sign_in(browser, cast.users["sponsor"].email)
    stolen = browser.get_cookie("session", domain="aptic.test").value
    order = f"/pass/commandes/{cast.ids['order']}"
    assert browser.get(order).status_code == 200
    assert _post(browser, "/deconnexion").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen, domain="aptic.test")
    assert thief.get(order).status_code == 302  # sent to the sign-in page


def test_a_password_change_ends_the_other_sessions_but_not_this_one(app, session):
    cast = two_of_each_kind(session)
    session.commit()
    email = cast.users["venue"].email
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, email)
    sign_in(elsewhere, email)
    refused = _post(here, "/compte/mot-de-passe", {"current": "pas le bon mot", "new": "un nouveau mot de passe"},
                    page="/compte/mot-de-passe")
    assert refused.status_code == 422 and "Mot de passe actuel incorrect." in unescape(refused.get_data(as_text=True))
    weak = _post(here, "/compte/mot-de-passe", {"current": PASSWORD, "new": "court"}, page="/compte/mot-de-passe")
    assert weak.status_code == 422 and "au moins 12 caractères" in unescape(weak.get_data(as_text=True))
    changed = _post(here, "/compte/mot-de-passe", {"current": PASSWORD, "new": "un nouveau mot de passe"},
                    page="/compte/mot-de-passe")
    assert changed.status_code == 302
    assert here.get("/compte").status_code == 200
    assert elsewhere.get("/compte").status_code == 302
    assert sign_in(app.test_client(), email, "un nouveau mot de passe").status_code == 302


def test_staff_deactivates_an_account_its_sessions_end_and_it_cannot_sign_in(app, session):
    cast = two_of_each_kind(session)
    session.commit()
    target = cast.users["distributor"]
    victim, staff = app.test_client(), app.test_client()
    sign_in(victim, target.email)
    assert victim.get("/pass/distribution").status_code == 200
    sign_in(staff, cast.users["staff"].email)
    page = staff.get("/comptes").get_data(as_text=True)
    assert target.email in page and "Actif" in page
    assert _post(staff, f"/comptes/{target.id}/desactiver", page="/comptes").status_code == 302
    assert "Désactivé" in staff.get("/comptes").get_data(as_text=True)
    assert victim.get("/pass/distribution").status_code == 302
    assert sign_in(app.test_client(), target.email).status_code == 401
    trail = [event.action for event in api.audit_trail(session, "user", target.id)]
    assert "user.deactivated" in trail and "user.sessions_ended" in trail
    assert _post(staff, f"/comptes/{target.id}/reactiver", page="/comptes").status_code == 302
    assert sign_in(app.test_client(), target.email).status_code == 302


def test_staff_creates_an_account_in_an_organisation(app, session):
    cast = two_of_each_kind(session)
    session.commit()
    staff = app.test_client()
    sign_in(staff, cast.users["staff"].email)
    response = _post(staff, "/comptes/nouveau", {
        "email": "nouvelle@exemple.fr", "full_name": "Nouvelle Aiguilleuse", "password": PASSWORD,
        "organisation": str(cast.users["distributor"].memberships[0].organisation_id), "role": "distributor",
    }, page="/comptes/nouveau")
    assert response.status_code == 302
    assert sign_in(app.test_client(), "nouvelle@exemple.fr").status_code == 302
    # An organisation that does not hold the role: the field is named, nothing is created.
    refused = _post(staff, "/comptes/nouveau", {
        "email": "autre@exemple.fr", "full_name": "Autre", "password": PASSWORD,
        "organisation": str(cast.ids["sponsor_organisation"]), "role": "venue_staff",
    }, page="/comptes/nouveau")
    assert refused.status_code == 422 and "n'a pas le rôle requis" in unescape(refused.get_data(as_text=True))
    assert session.query(User).filter_by(email="autre@exemple.fr").count() == 0


def test_a_venue_operator_creates_a_key_shown_once_and_revokes_it(app, session):
    cast = two_of_each_kind(session)
    session.commit()
    venue_staff = app.test_client()
    sign_in(venue_staff, cast.users["venue"].email)
    created = _post(venue_staff, "/cles-api", {"venue": str(cast.ids["venue"]), "label": "Douchette de l'accueil"},
                    page="/cles-api")
    assert created.status_code == 201
    token = unescape(created.get_data(as_text=True)).split('<code class="api-token">')[1].split("<")[0]
    assert token.startswith("aptic_")
    assert token not in venue_staff.get("/cles-api").get_data(as_text=True)  # shown once
    assert _redeem(app.test_client(), token).status_code == 422  # a valid key: the body is what is refused
    key = session.query(ApiKey).filter_by(label="Douchette de l'accueil").one()
    # Another organisation's venue staff neither sees nor revokes it.
    other = app.test_client()
    sign_in(other, cast.users["venue_b"].email)
    assert "Douchette de l'accueil" not in other.get("/cles-api").get_data(as_text=True)
    assert _post(other, f"/cles-api/{key.id}/revoquer", page="/cles-api").status_code == 403
    # Nor may it create one for a venue that is not its own.
    assert _post(other, "/cles-api", {"venue": str(cast.ids["venue"])}, page="/cles-api").status_code == 422
    assert _post(venue_staff, f"/cles-api/{key.id}/revoquer", page="/cles-api").status_code == 302
    assert "Révoquée le" in venue_staff.get("/cles-api").get_data(as_text=True)
    revoked = _redeem(app.test_client(), token)
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "unauthenticated"


def test_the_command_line_lists_and_revokes_keys_and_deactivates_users(app, session):
    cast = two_of_each_kind(session)
    session.commit()
    listed = json.loads(run(app, "api-keys", "list", "--organisation", str(cast.ids["organisation"]), "--json").output)
    assert {row["label"] for row in listed} == {"douchette A", "douchette de secours A"}
    assert all("secret" not in json.dumps(row) and "token" not in row for row in listed)
    scanner = next(row for row in listed if row["label"] == "douchette A")
    assert _redeem(app.test_client(), cast.tokens["venue"]).status_code == 422
    revoked = run(app, "api-keys", "revoke", scanner["prefix"])
    assert revoked.exit_code == 0 and "révoquée" in revoked.output
    assert _redeem(app.test_client(), cast.tokens["venue"]).status_code == 401
    unknown = run(app, "api-keys", "revoke", "zzzzzzzz")
    assert unknown.exit_code == 1 and "Aucune clé d'API « zzzzzzzz »" in unknown.output

    browser = app.test_client()
    user = cast.users["sponsor"]
    sign_in(browser, user.email)
    assert run(app, "users", "deactivate", str(user.id)).exit_code == 0
    assert browser.get("/pass/commandes").status_code == 302
    users = json.loads(run(app, "users", "list", "--json").output)
    assert next(u for u in users if u["email"] == user.email)["active"] is False
    assert run(app, "users", "reactivate", str(user.id)).exit_code == 0
    changed = run(app, "users", "set-password", str(user.id), input="une autre phrase longue\nune autre phrase longue\n")
    assert changed.exit_code == 0, changed.output
    assert sign_in(app.test_client(), user.email, "une autre phrase longue").status_code == 302
    assert run(app, "users", "deactivate", "2147483648").exit_code == 1


def test_commands_answer_an_out_of_range_id_in_french(app):
    for args in (["api-keys", "create", "--organisation", "9223372036854775808"],
                 ["users", "reactivate", "9223372036854775808"]):
        result = run(app, *args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "Aucun compte" in result.output or "Cette organisation n'existe pas" in result.output
