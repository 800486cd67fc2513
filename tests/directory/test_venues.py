"""Venues: the national standard's attributes, referential services, status machine, audit."""

import pytest

from directory import api
from directory.errors import InvalidInput, InvalidTransition, NotFound
from directory.models import VenueStatus
from tests.builders import ACTOR


@pytest.fixture
def operator(session):
    return api.create_organisation(
        session, ACTOR, name="Ville de Lyon", legal_form="collectivite", siret="21690123100011", is_venue_operator=True
    )


def venue_fields(operator, **overrides):
    fields = {
        "organisation_id": operator.id,
        "nom": "Médiathèque de la Part-Dieu",
        "adresse": "30 boulevard Marius Vivier Merle",
        "code_postal": "69003",
        "commune": "Lyon",
        "longitude": 4.8563,
        "latitude": 45.7609,
        "horaires": "Tu-Fr 10:00-19:00; Sa 10:00-18:00; PH off",
        "telephone": "04 78 62 18 00",
        "courriels": ["contact@bm-lyon.fr"],
        "services": ["premiers-pas", "messagerie", "emploi-et-formation"],
        "modalites_accompagnement": ["Accompagnement individuel"],
        "frais_a_charge": ["Gratuit"],
    }
    fields.update(overrides)
    return fields


def test_create_a_venue_derives_the_commune_from_its_point(session, operator):
    venue = api.create_venue(session, ACTOR, venue_fields(operator))
    assert venue.code_insee == "69123"
    assert venue.telephone == "+33478621800"
    assert venue.levels == [1, 2, 3]
    assert [s.slug for s in venue.services] == ["premiers-pas", "messagerie", "emploi-et-formation"]
    assert venue.status == VenueStatus.CANDIDATE
    assert api.venue_coordinates(venue) == pytest.approx([4.8563, 45.7609])
    assert [e.action for e in api.audit_trail(session, "venue", venue.id)] == ["venue.created"]


def test_an_arrondissement_code_is_stored_as_its_commune(session, operator):
    venue = api.create_venue(session, ACTOR, venue_fields(operator, code_insee="69383", longitude=None, latitude=None))
    assert venue.code_insee == "69123"
    assert venue.location is None


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"nom": "  "}, "nom", "required"),
        ({"code_postal": "6900"}, "code_postal", "invalid_postcode"),
        ({"horaires": "du lundi au vendredi"}, "horaires", "invalid_opening_hours"),
        ({"telephone": "12"}, "telephone", "invalid_phone"),
        ({"courriels": ["pas-un-courriel"]}, "courriels", "invalid_email"),
        ({"site_web": ["ftp://x"]}, "site_web", "invalid_url"),
        ({"longitude": -30.0, "latitude": 40.0}, "coordonnees", "outside_france"),
        ({"latitude": 95.0}, "latitude", "invalid_latitude"),
        ({"code_insee": "ABCDE"}, "code_insee", "invalid_insee_code"),
        ({"services": ["tricot"]}, "services", "unknown_service"),
        ({"date_maj": "23/11/2026"}, "date_maj", "invalid_date"),
        ({"couleur": "bleu"}, "couleur", "unknown_field"),
    ],
)
def test_bad_input_is_refused_naming_the_field(session, operator, overrides, field, code):
    with pytest.raises(InvalidInput) as error:
        api.create_venue(session, ACTOR, venue_fields(operator, **overrides))
    assert (error.value.field, error.value.code) == (field, code)
    assert error.value.message[0].isupper()


def test_an_unknown_insee_code_is_refused(session, operator):
    with pytest.raises(NotFound) as error:
        api.create_venue(session, ACTOR, venue_fields(operator, code_insee="99999", longitude=None, latitude=None))
    assert error.value.code == "unknown_insee_code"


def test_update_changes_and_audits_only_what_changed(session, operator):
    venue = api.create_venue(session, ACTOR, venue_fields(operator))
    changes = api.update_venue(session, ACTOR, venue, {"nom": "Médiathèque de la Part-Dieu", "horaires": "Mo-Sa 10:00-19:00"})
    assert changes == {"horaires": ["Tu-Fr 10:00-19:00; Sa 10:00-18:00; PH off", "Mo-Sa 10:00-19:00"]}
    assert api.update_venue(session, ACTOR, venue, {"horaires": "Mo-Sa 10:00-19:00"}) == {}
    actions = [e.action for e in api.audit_trail(session, "venue", venue.id)]
    assert actions == ["venue.created", "venue.updated"]


def test_a_bad_update_leaves_the_venue_unchanged(session, operator):
    venue = api.create_venue(session, ACTOR, venue_fields(operator))
    with pytest.raises(InvalidInput):
        api.update_venue(session, ACTOR, venue, {"horaires": "Mo-Sa 10:00-19:00", "code_postal": "abc"})
    assert venue.horaires == "Tu-Fr 10:00-19:00; Sa 10:00-18:00; PH off"


def test_status_machine(session, operator):
    venue = api.create_venue(session, ACTOR, venue_fields(operator))
    api.set_venue_status(session, ACTOR, venue, "qualified", "Dossier complet, quota disponible")
    api.set_venue_status(session, ACTOR, venue, "suspended", "Contrôle en cours")
    api.set_venue_status(session, ACTOR, venue, "qualified", "Contrôle levé")
    api.set_venue_status(session, ACTOR, venue, "closed", "Fermeture")
    # a closed venue may get back the status it had (an import that closed it by mistake)
    api.set_venue_status(session, ACTOR, venue, "qualified", "Réouverture")
    with pytest.raises(InvalidTransition) as error:
        api.set_venue_status(session, ACTOR, venue, "candidate", "Retour en candidature")
    assert error.value.status == 409
    events = [e for e in api.audit_trail(session, "venue", venue.id) if e.action == "venue.status_changed"]
    assert [(e.data["before"], e.data["after"]) for e in events] == [
        ("candidate", "qualified"), ("qualified", "suspended"), ("suspended", "qualified"), ("qualified", "closed"),
        ("closed", "qualified"),
    ]
    assert events[0].data["reason"] == "Dossier complet, quota disponible"


def test_a_candidate_cannot_be_suspended_and_a_reason_is_required(session, operator):
    venue = api.create_venue(session, ACTOR, venue_fields(operator))
    with pytest.raises(InvalidTransition):
        api.set_venue_status(session, ACTOR, venue, "suspended", "motif")
    with pytest.raises(InvalidInput) as error:
        api.set_venue_status(session, ACTOR, venue, "qualified", " ")
    assert error.value.field == "reason"
    assert venue.status == VenueStatus.CANDIDATE
