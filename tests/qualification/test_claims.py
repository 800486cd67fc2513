"""From open data to qualification: claim an imported venue, or invite a structure to; then the usual path."""

from html import unescape

import pytest

from directory.errors import DomainError
from directory.models import Role, VenueStatus
from qualification import api
from qualification.models import ApplicationStatus, VenueOutcome
from tests.builders import (
    ACTOR,
    BIC,
    IBAN,
    PDF,
    aptic_staff,
    csrf_token_from,
    imported_venue,
    make_organisation,
    member,
    qualified_venue,
    sign_in,
)


def test_an_imported_venue_claimed_by_its_structure_goes_through_the_decision(session, storage):
    venue = imported_venue(session)
    organisation = make_organisation(session, "entreprise")
    application = api.claim_venue(session, ACTOR, venue, organisation)
    assert (application.status, [site.venue_id for site in application.sites]) == (ApplicationStatus.DRAFT, [venue.id])
    assert venue.organisation_id == organisation.id and venue.nom == "Espace public numérique de Cahors"
    assert api.claimable_venues(session, "Cahors") == []
    api.set_bank_details(session, ACTOR, application, iban=IBAN, bic=BIC, account_holder=organisation.name)
    for kind in api.required_documents("entreprise"):
        api.store_document(session, ACTOR, application, kind, f"{kind}.pdf", PDF, storage)
    api.submit_application(session, ACTOR, application)
    api.mark_complete(session, ACTOR, application)
    (decision,) = api.decide(session, ACTOR, application)
    assert decision.outcome == VenueOutcome.QUALIFIED and decision.sentence.startswith("Qualifié : CA du Grand Cahors")
    assert venue.status == VenueStatus.QUALIFIED


def test_a_venue_is_claimed_once_and_only_while_a_candidate(session):
    venue = imported_venue(session)
    first, second = make_organisation(session), make_organisation(session)
    application = api.claim_venue(session, ACTOR, venue, first)
    with pytest.raises(DomainError) as refused:
        api.claim_venue(session, ACTOR, venue, second)
    assert refused.value.code == "venue_already_claimed"
    assert refused.value.message == (f"Le lieu « Espace public numérique de Cahors » est déjà dans le dossier de "
                                     f"qualification n° {application.id}.")
    with pytest.raises(DomainError) as qualified:
        api.claim_venue(session, ACTOR, qualified_venue(session), second)
    assert qualified.value.code == "venue_not_claimable"


def test_venue_staff_find_and_claim_their_venue_in_the_browser(client, session):
    venue = imported_venue(session)
    organisation = make_organisation(session)
    member(session, organisation, Role.VENUE_STAFF, "lieu@exemple.fr")
    session.commit()
    assert sign_in(client, "lieu@exemple.fr").status_code == 302
    listing = unescape(client.get("/qualification/lieux-ouverts/?q=cahors").get_data(as_text=True))
    assert "Espace public numérique de Cahors" in listing and "1 lieu" in listing
    page = client.get(f"/qualification/lieux-ouverts/{venue.id}").get_data(as_text=True)
    assert "Revendiquer ce lieu" in page and "Inviter une structure" not in page
    response = client.post(f"/qualification/lieux-ouverts/{venue.id}/revendication",
                           data={"csrf_token": csrf_token_from(page), "organisation_id": organisation.id})
    assert response.status_code == 302
    (application,) = api.applications_of(session, [organisation.id])
    assert response.headers["Location"].endswith(f"/qualification/dossiers/{application.id}")
    dossier = unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Espace public numérique de Cahors" in dossier and "Statut : Brouillon." in dossier
    again = client.post(f"/qualification/lieux-ouverts/{venue.id}/revendication",
                        data={"csrf_token": csrf_token_from(page), "organisation_id": organisation.id})
    assert again.status_code == 409 and "déjà dans le dossier de qualification" in unescape(again.get_data(as_text=True))
    other = make_organisation(session)
    session.commit()
    assert client.post(f"/qualification/lieux-ouverts/{venue.id}/revendication",
                       data={"csrf_token": csrf_token_from(page), "organisation_id": other.id}).status_code == 403
    assert client.post(f"/qualification/lieux-ouverts/{venue.id}/invitation",
                       data={"csrf_token": csrf_token_from(page), "organisation_id": organisation.id}).status_code == 403


def test_staff_invite_a_structure_on_an_imported_venue(client, session):
    venue = imported_venue(session)
    organisation = make_organisation(session)
    aptic_staff(session)
    session.commit()
    assert sign_in(client, "equipe@aptic-exemple.fr").status_code == 302
    page = client.get(f"/qualification/lieux-ouverts/{venue.id}").get_data(as_text=True)
    assert "Inviter une structure" in page
    response = client.post(f"/qualification/lieux-ouverts/{venue.id}/invitation",
                           data={"csrf_token": csrf_token_from(page), "organisation_id": organisation.id})
    assert response.status_code == 302
    (application,) = api.applications_of(session, [organisation.id])
    assert [site.venue_id for site in application.sites] == [venue.id]
    unknown = client.post(f"/qualification/lieux-ouverts/{imported_venue(session, name='Autre').id}/invitation",
                          data={"csrf_token": csrf_token_from(page), "organisation_id": 999_999})
    assert unknown.status_code == 404
