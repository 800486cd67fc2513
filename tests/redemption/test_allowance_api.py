"""The sponsor's allowances over the API: with the sponsor's API key, or signed in."""

from directory import api as directory_api
from tests.builders import ACTOR, hand_out, person


def test_a_sponsor_key_allows_lists_and_withdraws_distributors(client, session, world):
    _, token = directory_api.create_api_key(session, ACTOR, world.sponsor, "logiciel du département")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/orders/{world.order.id}/distributors/{world.distributor.id}"
    assert client.get(f"/api/v1/orders/{world.order.id}/distributors", headers=headers).get_json()["distributors"] == []
    put = client.put(url, json={"first": 1, "last": f"{world.order.id:05d}-00002"}, headers=headers)
    assert put.status_code == 200, put.get_json()
    assert put.get_json() == {"order": world.order.id, "distributor_id": world.distributor.id,
                              "distributor": "CCAS de Bordeaux", "first": 1, "last": 2}
    hand_out(session, world.distributor, world.booklet(1), person("A"))
    refused = client.put(url, json={"first": 3, "last": 1}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "invalid_range"
    whole = client.put(url, json={}, headers=headers)
    assert whole.status_code == 200 and whole.get_json()["first"] is None
    # Another organisation's key may not touch the order; an unknown key is 401.
    _, other = directory_api.create_api_key(session, ACTOR, world.operator, "autre")
    assert client.put(url, json={}, headers={"Authorization": f"Bearer {other}"}).status_code == 403
    assert client.get(f"/api/v1/orders/{world.order.id}/distributors",
                      headers={"Authorization": "Bearer aptic_x_y"}).status_code == 401
    gone = client.post(f"{url}/revoke", headers=headers)
    assert gone.status_code == 200 and gone.get_json()["distributors"] == []
    assert client.post(f"{url}/revoke", headers=headers).get_json()["error"]["code"] == "unknown_allowance"
