"""Accounts: argon2 passwords, memberships by role, API keys stored as prefix + hash."""

import pytest
from sqlalchemy import select

from directory import api
from directory.errors import Conflict, InvalidInput
from directory.models import ApiKey, Role
from tests.builders import ACTOR, PASSWORD


@pytest.fixture
def sponsor(session):
    return api.create_organisation(
        session, ACTOR, name="CAF du Nord", legal_form="etablissement_public", siret="77562386100041", is_sponsor=True
    )


def test_passwords_are_hashed_with_argon2id(session):
    user = api.create_user(session, ACTOR, email=" Camille@Example.FR ", full_name="Camille", password=PASSWORD)
    assert user.email == "camille@example.fr"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_authenticate(session):
    user = api.create_user(session, ACTOR, email="camille@example.fr", full_name="Camille", password=PASSWORD)
    assert api.authenticate(session, "CAMILLE@example.fr", PASSWORD) is user
    assert user.last_login_at is not None
    assert api.authenticate(session, "camille@example.fr", "wrong password!") is None
    assert api.authenticate(session, "nobody@example.fr", PASSWORD) is None
    user.is_active = False
    assert api.authenticate(session, "camille@example.fr", PASSWORD) is None


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [({"email": "pas-un-courriel"}, "email", "invalid_email"), ({"password": "court"}, "password", "weak_password"),
     ({"full_name": ""}, "full_name", "required")],
)
def test_bad_account_input(session, fields, field, code):
    values = {"email": "a@example.fr", "full_name": "A", "password": PASSWORD} | fields
    with pytest.raises(InvalidInput) as error:
        api.create_user(session, ACTOR, **values)
    assert (error.value.field, error.value.code) == (field, code)


def test_one_account_per_email(session):
    api.create_user(session, ACTOR, email="a@example.fr", full_name="A", password=PASSWORD)
    with pytest.raises(Conflict):
        api.create_user(session, ACTOR, email="A@example.fr", full_name="A bis", password=PASSWORD)


def test_a_membership_needs_the_organisation_to_hold_the_role(session, sponsor):
    user = api.create_user(session, ACTOR, email="a@example.fr", full_name="A", password=PASSWORD)
    api.add_membership(session, ACTOR, user, sponsor, Role.SPONSOR)
    assert user.has_role(Role.SPONSOR) and user.has_role(Role.SPONSOR, sponsor.id)
    assert not user.has_role(Role.APTIC_STAFF)
    with pytest.raises(InvalidInput) as error:
        api.add_membership(session, ACTOR, user, sponsor, Role.DISTRIBUTOR)
    assert error.value.code == "role_not_held"
    assert [e.action for e in api.audit_trail(session, "user", user.id)] == ["user.created", "membership.added"]


def test_api_keys_are_stored_as_prefix_and_hash(session, sponsor):
    key, token = api.create_api_key(session, ACTOR, sponsor, "Intégration")
    scheme, prefix, secret = token.split("_", 2)
    assert (scheme, prefix) == ("aptic", key.prefix)
    stored = session.scalars(select(ApiKey)).one()
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64
    assert api.authenticate_api_key(session, token) is key
    assert key.last_used_at is not None
    assert api.authenticate_api_key(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert api.authenticate_api_key(session, "Bearer nonsense") is None
    api.revoke_api_key(session, ACTOR, key)
    assert api.authenticate_api_key(session, token) is None
