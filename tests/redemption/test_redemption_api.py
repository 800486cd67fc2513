"""POST /api/v1/redemptions: every refusal with its status and code, all-or-nothing, retries, cancel."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from aptic import create_app
from directory import api as directory_api
from directory.db import utcnow
from directory.models import ApiKey, AuditEvent
from redemption import api, codes
from redemption.access import SCANNERS
from redemption.models import Cheque, ChequeStatus, Redemption, RedemptionCheque, RedemptionStatus
from tests.builders import ACTOR, bearer, csrf_token_from, distribute, make_order, sign_in, venue_user


def post(client, world, codes_, service="premiers-pas", who="venue"):
    return client.post("/api/v1/redemptions", json={"codes": codes_, "service": service}, headers=bearer(world, who))


def redeemed_count(session):
    return session.scalar(select(func.count()).select_from(Cheque).where(Cheque.status == ChequeStatus.REDEEMED))


def assert_refused(response, status, code):
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


def test_a_distributed_cheque_is_redeemed_once_and_audited(client, session, world):
    distribute(session, world, 0)
    code = world.codes(0)[0]
    response = post(client, world, [codes.grouped(code).lower()])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["amount_cents"] == 1000 and body["cheques"] == [codes.grouped(code)] and body["status"] == "redeemed"
    assert body["booklet"] == world.booklet(0).number and body["vintage"] == world.order.vintage
    assert session.scalar(select(Cheque.status).where(Cheque.code == code)) == ChequeStatus.REDEEMED
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "redemption.created", AuditEvent.target_id == str(body["id"])))
    # A different venue scanning it again: refused, without saying where or when.
    again = post(client, world, [code], who="other")
    assert_refused(again, 409, "already_redeemed")
    assert "details" not in again.get_json()["error"]


def test_two_cheques_of_one_booklet_in_one_delivery(client, session, world):
    distribute(session, world, 0)
    response = post(client, world, world.codes(0)[:2])
    assert response.status_code == 201
    assert response.get_json()["amount_cents"] == 2000
    assert redeemed_count(session) == 2


def test_all_or_nothing_when_the_second_cheque_is_already_used(client, session, world):
    distribute(session, world, 0)
    first, second = world.codes(0)[:2]
    assert post(client, world, [second], who="other").status_code == 201
    response = post(client, world, [first, second])
    assert_refused(response, 409, "already_redeemed")
    assert session.scalar(select(Cheque.status).where(Cheque.code == first)) == ChequeStatus.ISSUED
    assert session.scalar(select(func.count()).select_from(Redemption)) == 1


@pytest.mark.parametrize("payload, status, code", [
    ({"codes": ["ABCDE-FGHJK-MNPQ"]}, 422, "invalid_code"),
    ({"codes": []}, 422, "invalid_code"),
    ({"codes": [12]}, 422, "invalid_code"),
    ({"codes": "pas-un-code"}, 422, "invalid_code"),
    ({"codes": None}, 422, "invalid_code"),
])
def test_malformed_codes(client, world, payload, status, code):
    response = client.post("/api/v1/redemptions", json={"service": "premiers-pas", **payload}, headers=bearer(world))
    assert_refused(response, status, code)


def test_a_single_typo_is_invalid_not_unknown(client, session, world):
    distribute(session, world, 0)
    code = world.codes(0)[0]
    typo = code[:3] + ("2" if code[3] != "2" else "3") + code[4:]
    response = post(client, world, [typo])
    assert_refused(response, 422, "invalid_code")
    assert response.get_json()["error"]["field"] == "codes[0]"
    assert redeemed_count(session) == 0


def test_unknown_code(client, world):
    assert_refused(post(client, world, [codes.new_code()]), 404, "unknown_code")


def test_too_many_cheques_and_mixed_booklets(client, session, world):
    distribute(session, world, 0)
    distribute(session, world, 1)
    assert_refused(post(client, world, world.codes(0)[:3]), 422, "too_many_cheques")
    assert_refused(post(client, world, [world.codes(0)[0], world.codes(1)[0]]), 422, "mixed_booklets")
    assert_refused(post(client, world, [world.codes(0)[0], world.codes(0)[0]]), 422, "invalid_code")
    assert redeemed_count(session) == 0


def test_cancelled_booklet(client, session, world):
    distribute(session, world, 0)
    api.cancel_booklet(session, ACTOR, world.booklet(0), "carnet perdu")
    assert_refused(post(client, world, [world.codes(0)[0]]), 410, "cancelled")


def test_expired_cheque(client, session, world):
    distribute(session, world, 0)
    world.order.expires_on = (utcnow() - timedelta(days=2)).date()
    session.flush()
    assert_refused(post(client, world, [world.codes(0)[0]]), 410, "expired")


def test_undistributed_booklet_unless_the_order_allows_it(client, session, world):
    assert_refused(post(client, world, [world.codes(0)[0]]), 403, "not_distributed")
    open_order = make_order(session, world.sponsor, booklets=1, requires_distribution=False)
    response = post(client, world, [open_order.booklets[0].cheques[0].code])
    assert response.status_code == 201


def test_venue_not_qualified_outside_territory_and_service_rules(client, session, world):
    distribute(session, world, 0)
    code = world.codes(0)[0]
    assert_refused(post(client, world, [code], who="candidate"), 403, "venue_not_qualified")
    assert_refused(post(client, world, [code], who="far"), 403, "outside_territory")
    assert_refused(post(client, world, [code], service="creation-numerique"), 403, "service_not_allowed")
    assert_refused(post(client, world, [code], service="pas-un-service"), 422, "unknown_service")
    level_one_only = make_order(session, world.sponsor, booklets=1, allowed_levels=[1], requires_distribution=False)
    level_one_code = level_one_only.booklets[0].cheques[0].code
    assert_refused(post(client, world, [level_one_code], service="demarches-en-ligne"), 403, "service_not_allowed")
    assert post(client, world, [level_one_code], service="premiers-pas").status_code == 201
    assert redeemed_count(session) == 1


def test_a_dequalified_venue_is_refused_the_same_day(client, session, world):
    distribute(session, world, 0)
    directory_api.set_venue_status(session, ACTOR, world.venue, "suspended", "contrôle en cours")
    assert_refused(post(client, world, [world.codes(0)[0]]), 403, "venue_not_qualified")


def test_authentication_is_required(client, world):
    response = client.post("/api/v1/redemptions", json={"codes": [world.codes(0)[0]], "service": "premiers-pas"})
    assert_refused(response, 401, "unauthenticated")
    response = client.post("/api/v1/redemptions", json={"codes": [world.codes(0)[0]], "service": "premiers-pas"},
                           headers={"Authorization": "Bearer aptic_deadbeef_wrong"})
    assert_refused(response, 401, "unauthenticated")
    assert_refused(client.post("/api/v1/redemptions", data="x", headers=bearer(world)), 422, "invalid_json")


def test_retry_within_ten_minutes_returns_the_original(client, session, world):
    distribute(session, world, 0)
    pair = world.codes(0)[:2]
    first = post(client, world, pair)
    assert first.status_code == 201
    retry = post(client, world, list(reversed([codes.grouped(c) for c in pair])))
    assert retry.status_code == 200
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert session.scalar(select(func.count()).select_from(Redemption)) == 1
    # The same venue with only one of the two cheques is not the same delivery: it sees its own scan.
    partial = post(client, world, pair[:1])
    assert_refused(partial, 409, "already_redeemed")
    assert partial.get_json()["error"]["details"]["redemption_id"] == first.get_json()["id"]
    # After ten minutes the same venue gets the refusal, with the date and venue shown to it.
    redemption = session.get(Redemption, first.get_json()["id"])
    redemption.created_at = utcnow() - timedelta(minutes=11)
    session.flush()
    late = post(client, world, pair)
    assert_refused(late, 409, "already_redeemed")
    assert late.get_json()["error"]["details"]["venue"] == world.venue.nom


def test_cancel_within_24_hours_then_the_cheque_is_usable_again(client, session, world):
    distribute(session, world, 0)
    code = world.codes(0)[0]
    created = post(client, world, [code]).get_json()
    assert_refused(client.post(f"/api/v1/redemptions/{created['id']}/cancel", headers=bearer(world, "other")),
                   404, "unknown_redemption")
    assert_refused(client.post("/api/v1/redemptions/2000000000/cancel", headers=bearer(world)), 404, "unknown_redemption")
    # Beyond what the database stores, the route itself does not match.
    assert_refused(client.post("/api/v1/redemptions/99999999999/cancel", headers=bearer(world)), 404, "not_found")
    cancelled = client.post(f"/api/v1/redemptions/{created['id']}/cancel", headers=bearer(world))
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert_refused(client.post(f"/api/v1/redemptions/{created['id']}/cancel", headers=bearer(world)),
                   409, "already_cancelled")
    again = post(client, world, [code], who="other")
    assert again.status_code == 201
    redemption = session.get(Redemption, again.get_json()["id"])
    redemption.created_at = utcnow() - timedelta(hours=25)
    session.flush()
    assert_refused(client.post(f"/api/v1/redemptions/{redemption.id}/cancel", headers=bearer(world, "other")),
                   409, "cancellation_window_closed")
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "redemption.cancelled")) == 1


def test_the_database_refuses_a_second_active_redemption_of_a_cheque(session, world):
    distribute(session, world, 0)
    redemption, _ = api.redeem(session, ACTOR, world.venue, [world.codes(0)[0]], "premiers-pas")
    cheque_id = redemption.lines[0].cheque_id
    duplicate = Redemption(venue_id=world.other_venue.id, service_id=redemption.service_id, booklet_id=redemption.booklet_id,
                           order_id=redemption.order_id, cheque_count=1, amount_cents=1000, actor="test",
                           lines=[RedemptionCheque(cheque_id=cheque_id, booklet_id=redemption.booklet_id,
                                                   service_id=redemption.service_id, service_slot=2)])
    with pytest.raises(Exception, match="(?i)unique"):
        with session.begin_nested():
            session.add(duplicate)
            session.flush()
    same_slot = Redemption(venue_id=world.venue.id, service_id=redemption.service_id, booklet_id=redemption.booklet_id,
                           order_id=redemption.order_id, cheque_count=1, amount_cents=1000, actor="test",
                           lines=[RedemptionCheque(cheque_id=world.booklet(0).cheques[1].id, booklet_id=redemption.booklet_id,
                                                   service_id=redemption.service_id, service_slot=1)])
    with pytest.raises(Exception, match="(?i)unique"):
        with session.begin_nested():
            session.add(same_slot)
            session.flush()
    with pytest.raises(Exception, match="(?i)check"):
        with session.begin_nested():
            session.add(Redemption(venue_id=world.venue.id, service_id=redemption.service_id,
                                   booklet_id=redemption.booklet_id, order_id=redemption.order_id, cheque_count=3,
                                   amount_cents=0, actor="test", status=RedemptionStatus.REDEEMED))
            session.flush()


def test_failed_attempts_are_rate_limited_per_key(app, client, world):
    app.config["REDEMPTION_FAILURES_PER_CREDENTIAL"] = "5 per minute"
    for _ in range(5):
        assert post(client, world, [codes.new_code()]).status_code == 404
    limited = post(client, world, [codes.new_code()])
    assert_refused(limited, 429, "rate_limited")
    # Another venue's key is counted apart.
    assert post(client, world, [codes.new_code()], who="other").status_code == 404


def _unknown_key(client, address="192.0.2.10"):
    return client.post("/api/v1/redemptions", json={"codes": ["X"], "service": "premiers-pas"},
                       headers={"Authorization": f"Bearer aptic_{uuid.uuid4().hex[:8]}_nope",
                                "X-Forwarded-For": address})


def test_refused_keys_are_limited_per_address_without_locking_out_valid_keys(app, client, session, world):
    """Behind one proxy, random keys from one client neither block another venue nor another client."""
    app.config["REDEMPTION_FAILURES_PER_ADDRESS"] = "3 per minute"
    for _ in range(3):
        assert_refused(_unknown_key(client), 401, "unauthenticated")
    assert_refused(_unknown_key(client), 429, "rate_limited")
    distribute(session, world, 0)
    session.commit()
    valid = client.post("/api/v1/redemptions", json={"codes": [world.codes(0)[0]], "service": "premiers-pas"},
                        headers={**bearer(world, "other"), "X-Forwarded-For": "192.0.2.10"})
    assert valid.status_code == 201, valid.get_json()
    # A known key's failures count on the key, not on the address.
    for who in ("venue", "other", "far"):
        assert post(client, world, [codes.new_code()], who=who).status_code == 404


def test_behind_trusted_proxies_each_client_has_its_own_failure_bucket(database_url, connection):
    proxied = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "TRUSTED_PROXIES": 1,
                          "REDEMPTION_FAILURES_PER_ADDRESS": "2 per minute"})
    proxied.extensions["aptic.db"].bind_to(connection)
    client = proxied.test_client()
    assert [_unknown_key(client, "198.51.100.1").status_code for _ in range(3)] == [401, 401, 429]
    assert _unknown_key(client, "198.51.100.2").status_code == 401


def test_a_signed_in_venue_user_redeems_with_a_csrf_token(client, session, world):
    distribute(session, world, 0)
    venue_user(session, world)
    sign_in(client, "accueil@mediatheque-bordeaux.fr")
    body = {"codes": [world.codes(0)[0]], "service": "premiers-pas", "venue_id": world.venue.id}
    assert client.post("/api/v1/redemptions", json=body).status_code == 400  # no CSRF token
    token = csrf_token_from(client.get("/pass/scanner").get_data(as_text=True))
    response = client.post("/api/v1/redemptions", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["venue_id"] == world.venue.id


def test_openapi_documents_the_redemption_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    responses = spec["paths"]["/api/v1/redemptions"]["post"]["responses"]
    assert {"200", "201", "403", "404", "409", "410", "422", "429"} <= set(responses)


def test_a_booklet_pays_two_cheques_at_most_for_one_service_over_all_deliveries(session, world, client):
    distribute(session, world, 0)
    codes = world.codes(0)
    first = client.post("/api/v1/redemptions", json={"codes": codes[:2], "service": "premiers-pas"}, headers=bearer(world))
    assert first.status_code == 201
    again = client.post("/api/v1/redemptions", json={"codes": codes[2:4], "service": "premiers-pas"},
                        headers=bearer(world, "other"))
    assert again.status_code == 409 and again.json["error"]["code"] == "service_limit_reached"
    assert "deux chèques de ce carnet ont déjà été utilisés le" in again.json["error"]["message"]
    assert client.post("/api/v1/redemptions", json={"codes": codes[2:3], "service": "demarches-en-ligne"},
                       headers=bearer(world)).status_code == 201
    client.post(f"/api/v1/redemptions/{first.json['id']}/cancel", json={}, headers=bearer(world))
    freed = client.post("/api/v1/redemptions", json={"codes": codes[3:5], "service": "premiers-pas"}, headers=bearer(world))
    assert freed.status_code == 201


def test_a_distribution_only_venue_cannot_redeem(session, world, client):
    distribute(session, world, 0)
    directory_api.set_distribution_only(session, ACTOR, world.venue, True)
    refused = client.post("/api/v1/redemptions", json={"codes": world.codes(0)[:1], "service": "premiers-pas"},
                          headers=bearer(world))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "venue_cannot_redeem"
    directory_api.set_distribution_only(session, ACTOR, world.venue, False)
    directory_api.set_distribution_only(session, ACTOR, world.operator, True)
    assert client.post("/api/v1/redemptions", json={"codes": world.codes(0)[:1], "service": "premiers-pas"},
                       headers=bearer(world)).json["error"]["code"] == "venue_cannot_redeem"


def test_france_services_distribute_only_unless_conseillers_numeriques():
    assert directory_api.distribution_only_by_default({"dispositif_programmes_nationaux": ["France Services"]})
    assert directory_api.distribution_only_by_default({"typologie": ["MFS"]})
    assert not directory_api.distribution_only_by_default(
        {"dispositif_programmes_nationaux": ["France Services", "Conseillers numériques"]})
    assert not directory_api.distribution_only_by_default({"dispositif_programmes_nationaux": ["Aidants Connect"]})


def test_a_revoked_key_is_refused_at_once_here_and_within_the_cache_lifetime_elsewhere(
        client, session, world, connection, monkeypatch):
    distribute(session, world, 0)
    distribute(session, world, 1)
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == world.tokens["venue"].split("_")[1]))
    other = session.scalar(select(ApiKey).where(ApiKey.prefix == world.tokens["other"].split("_")[1]))
    session.flush()
    assert post(client, world, [world.codes(0)[0]]).status_code == 201  # the key is now cached
    directory_api.revoke_api_key(session, ACTOR, key)  # written by a session of this process
    assert_refused(post(client, world, [world.codes(0)[1]]), 401, "unauthenticated")

    assert post(client, world, [world.codes(1)[0]], who="other").status_code == 201
    # Revoked by another process: this one does not see the write until its copy expires.
    connection.execute(update(ApiKey).where(ApiKey.id == other.id).values(revoked_at=utcnow()))
    assert post(client, world, [world.codes(1)[2]], service="demarches-en-ligne", who="other").status_code == 201
    monkeypatch.setattr(SCANNERS, "ttl", 0.0)
    assert_refused(post(client, world, [world.codes(1)[4]], who="other"), 401, "unauthenticated")
    assert redeemed_count(session) == 3
