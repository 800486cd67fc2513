"""Bank details in the organisation's name: a different account holder is flagged for staff, who may accept it."""

from html import unescape

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic.cli import cli
from directory import api as directory_api
from directory.errors import DomainError
from qualification import api
from qualification.checklist import holder_matches, normalised_name
from qualification.errors import ApplicationIncomplete
from qualification.models import ApplicationStatus
from tests.builders import ACTOR, BIC, IBAN, PDF, csrf_token_from, sign_in, site_fields, aptic_staff


@pytest.mark.parametrize("holder, legal_name, same", [
    ("Association Les Amis du Numérique", "Les amis du numerique", True),
    ("ASSO. LES AMIS DU NUMERIQUE - COMPTE COURANT", "Association Les Amis du Numérique", True),
    ("Les Amis du Numerique", "Association Les Amis du Numérique", True),
    ("Amis du Numériqe", "Association Les Amis du Numérique", True),  # a typo
    ("Jean Dupont", "Association Les Amis du Numérique", False),
    ("M. ou Mme Martin", "Association Les Amis du Numérique", False),
    ("Association", "Association Les Amis du Numérique", False),  # nothing left once normalised
])
def test_the_holder_is_compared_with_the_legal_name_normalised_and_fuzzy(holder, legal_name, same):
    assert holder_matches(holder, legal_name) is same


def test_normalised_names():
    assert normalised_name("Asso. Les Amis d'Été") == "amis ete"


def _submitted(session, storage, holder):
    organisation = directory_api.create_organisation(session, ACTOR, name="Association Les Amis du Numérique",
                                                     legal_form="association", siret="78467169500087", is_venue_operator=True)
    application = api.create_application(session, ACTOR, organisation)
    api.add_site(session, ACTOR, application, site_fields())
    api.set_bank_details(session, ACTOR, application, iban=IBAN, bic=BIC, account_holder=holder)
    for kind in api.required_documents("association"):
        api.store_document(session, ACTOR, application, kind, f"{kind}.pdf", PDF, storage)
    api.submit_application(session, ACTOR, application)
    return application


def test_a_private_holder_is_flagged_and_blocks_completion_until_staff_accept_it(session, storage):
    application = _submitted(session, storage, "Jean Dupont")
    item = next(i for i in api.checklist(application) if i.key == "bank_holder")
    assert not item.done and "« Jean Dupont »" in item.missing and "l'équipe APTIC doit le vérifier" in item.missing
    with pytest.raises(ApplicationIncomplete):
        api.mark_complete(session, ACTOR, application)
    with pytest.raises(DomainError) as refused:
        api.accept_bank_holder(session, ACTOR, application, " ")
    assert refused.value.code == "required" and refused.value.field == "reason"
    api.accept_bank_holder(session, ACTOR, application, "Compte du trésorier, association en cours d'ouverture")
    assert next(i for i in api.checklist(application) if i.key == "bank_holder").done
    assert api.mark_complete(session, ACTOR, application).status == ApplicationStatus.COMPLETE


def test_the_organisations_own_account_passes_without_review(session, storage):
    application = _submitted(session, storage, "ASSOCIATION LES AMIS DU NUMERIQUE")
    assert next(i for i in api.checklist(application) if i.key == "bank_holder").done
    assert api.mark_complete(session, ACTOR, application).status == ApplicationStatus.COMPLETE


def test_staff_accept_the_holder_from_the_application_page(client, session, storage):
    application = _submitted(session, storage, "Jean Dupont")
    aptic_staff(session)
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    page = unescape(client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True))
    assert "Le titulaire du compte « Jean Dupont » ne correspond pas" in page
    assert 'value="accept_bank_holder"' in page
    url = f"/qualification/dossiers/{application.id}/instruction"
    refused = client.post(url, data={"csrf_token": csrf_token_from(page), "action": "accept_bank_holder"})
    assert refused.status_code == 422 and "Indiquez pourquoi" in unescape(refused.get_data(as_text=True))
    accepted = client.post(url, data={"csrf_token": csrf_token_from(page), "action": "accept_bank_holder",
                                      "reason": "Compte du trésorier le temps de l'ouverture"})
    assert accepted.status_code == 302
    after = unescape(client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True))
    assert 'value="accept_bank_holder"' not in after and "ne correspond pas" not in after
    session.expire_all()
    assert api.get_application(session, application.id).account_holder_accepted == "Jean Dupont"


def test_staff_accept_the_holder_from_the_command_line(app, session, storage):
    application = _submitted(session, storage, "Jean Dupont")
    session.commit()
    result = CliRunner().invoke(cli, ["qualification", "accept-bank-holder", str(application.id), "--reason",
                                      "Compte du trésorier"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert f"Dossier n° {application.id} : titulaire « Jean Dupont » accepté." in result.output
    session.expire_all()
    assert next(i for i in api.checklist(api.get_application(session, application.id)) if i.key == "bank_holder").done
