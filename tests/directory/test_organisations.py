"""Organisations: legal identifiers checked, roles required, every creation audited."""

import pytest
from sqlalchemy import func, select

from directory import api
from directory.errors import Conflict, InvalidInput, NotFound
from directory.models import Organisation
from tests.builders import ACTOR

GIRONDE = "22330001300016"


def create(session, **overrides):
    fields = {"name": "Département de la Gironde", "legal_form": "collectivite", "siret": GIRONDE, "is_sponsor": True}
    fields.update(overrides)
    return api.create_organisation(session, ACTOR, **fields)


def test_create_an_organisation_with_several_roles(session):
    organisation = create(session, siret="223 300 013 00016", is_distributor=True, code_insee="33063")
    assert organisation.siret == GIRONDE
    assert organisation.roles == ["commanditaire", "aiguilleur"]
    assert organisation.code_insee == "33063"
    trail = api.audit_trail(session, "organisation", organisation.id)
    assert [e.action for e in trail] == ["organisation.created"]
    assert trail[0].actor == ACTOR.label
    assert trail[0].data["siret"] == GIRONDE


@pytest.mark.parametrize(
    ("siret", "reason"),
    [("22330001300017", "clé de contrôle"), ("2233000130001", "14 chiffres"), ("ABCDEFGHIJKLMN", "14 chiffres")],
)
def test_an_invalid_siret_is_refused_naming_the_field(session, siret, reason):
    before = session.scalar(select(func.count()).select_from(Organisation))
    with pytest.raises(InvalidInput) as error:
        create(session, siret=siret)
    assert error.value.code == "invalid_siret"
    assert error.value.field == "siret"
    assert reason in error.value.message
    assert session.scalar(select(func.count()).select_from(Organisation)) == before


def test_an_association_may_use_its_rna_number(session):
    organisation = create(session, name="Les Connectés", legal_form="association", siret=None, rna="w751234567")
    assert organisation.rna == "W751234567" and organisation.siret is None


def test_an_invalid_rna_is_refused(session):
    with pytest.raises(InvalidInput) as error:
        create(session, siret=None, rna="X12")
    assert (error.value.code, error.value.field) == ("invalid_rna", "rna")


def test_a_legal_identifier_is_required(session):
    with pytest.raises(InvalidInput) as error:
        create(session, siret=None)
    assert error.value.code == "legal_identifier_required"


def test_a_role_is_required(session):
    with pytest.raises(InvalidInput) as error:
        create(session, is_sponsor=False)
    assert error.value.field == "roles"


def test_the_same_siret_cannot_be_registered_twice(session):
    create(session)
    with pytest.raises(Conflict) as error:
        create(session, name="Doublon")
    assert error.value.code == "organisation_exists"


def test_an_unknown_commune_is_refused(session):
    with pytest.raises(NotFound) as error:
        create(session, code_insee="99999")
    assert error.value.field == "code_insee"


def test_an_unknown_legal_form_is_refused(session):
    with pytest.raises(InvalidInput) as error:
        create(session, legal_form="sarl")
    assert error.value.field == "legal_form"
