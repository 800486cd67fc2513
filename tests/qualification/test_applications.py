"""Applications: status machine, checklist per legal form, documents, bank details, audit."""

import pytest

from directory import api as directory_api
from directory.errors import InvalidInput, InvalidTransition
from directory.models import VenueStatus
from qualification import api
from qualification.errors import ApplicationIncomplete, BankDetailsInvalid, DocumentRejected
from qualification.models import ApplicationStatus
from tests.builders import ACTOR, BIC, IBAN, PDF, complete_application, make_organisation, site_fields

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_the_checklist_depends_on_the_legal_form(session, storage):
    association = api.create_application(session, ACTOR, make_organisation(session, "association"))
    company = api.create_application(session, ACTOR, make_organisation(session, "entreprise"))
    documents = lambda application: [i.label for i in api.checklist(application) if i.key.startswith("document:")]  # noqa: E731
    assert documents(association) == [
        "Publication au Journal officiel", "Procès-verbal de la dernière assemblée générale",
        "Statuts certifiés conformes", "Pièce d'identité du président ou du trésorier", "RIB (relevé d'identité bancaire)",
    ]
    assert documents(company) == [
        "Extrait d'immatriculation (Kbis ou registre) de moins de trois mois",
        "Pièce d'identité du représentant légal", "RIB (relevé d'identité bancaire)",
    ]
    with pytest.raises(DocumentRejected):
        api.store_document(session, ACTOR, company, "statutes", "statuts.pdf", PDF, storage)


def test_the_applicant_sees_what_is_missing_in_french(session, storage):
    application = api.create_application(session, ACTOR, make_organisation(session, "association", siret=False))
    missing = api.missing_items(application)
    assert "Document à déposer : Statuts certifiés conformes." in missing
    assert any("SIRET" in item for item in missing)
    assert "Ajoutez au moins un point de présence." in missing
    assert "Indiquez l'IBAN, le BIC et le titulaire du compte." in missing
    api.add_site(session, ACTOR, application, {**site_fields(), "horaires": None, "services": []})
    assert any("indiquez les services proposés, les horaires" in item for item in api.missing_items(application))
    assert "brouillon" in api.status_explanation(application)


def test_a_file_goes_from_draft_to_complete_and_every_move_is_audited(session, storage):
    application = complete_application(session, storage, legal_form="association")
    assert application.status == ApplicationStatus.COMPLETE
    assert api.missing_items(application) == []
    trail = directory_api.audit_trail(session, "application", application.id)
    moves = [(e.data["before"], e.data["after"], e.actor) for e in trail if e.action == "application.status_changed"]
    assert moves == [("draft", "submitted", ACTOR.label), ("submitted", "complete", ACTOR.label)]
    assert all(e.data["reason"] for e in trail if e.action == "application.status_changed")


def test_refused_transitions(session, storage):
    application = api.create_application(session, ACTOR, make_organisation(session))
    with pytest.raises(ApplicationIncomplete):
        api.submit_application(session, ACTOR, application)  # no point de présence
    with pytest.raises(InvalidTransition):
        api.mark_complete(session, ACTOR, application)  # draft cannot become complete
    with pytest.raises(InvalidTransition):
        api.decide(session, ACTOR, application)
    api.add_site(session, ACTOR, application, site_fields())
    api.submit_application(session, ACTOR, application)
    with pytest.raises(ApplicationIncomplete) as error:
        api.mark_complete(session, ACTOR, application)  # documents and bank details missing
    assert error.value.details["missing"] and application.status == ApplicationStatus.SUBMITTED
    with pytest.raises(InvalidTransition):
        api.add_site(session, ACTOR, application, site_fields())  # a submitted file is locked
    with pytest.raises(InvalidInput):
        api.transition(session, ACTOR, application, ApplicationStatus.REJECTED, "  ")  # a reason is required
    api.reject_application(session, ACTOR, application, "Structure hors du champ de la médiation numérique.")
    for target in ApplicationStatus:
        with pytest.raises(InvalidTransition):
            api.transition(session, ACTOR, application, target, "essai")
    assert application.sites[0].outcome.value == "rejected"
    assert application.sites[0].venue.status == VenueStatus.CANDIDATE


def test_a_submitted_file_can_be_returned_to_the_applicant(session):
    application = api.create_application(session, ACTOR, make_organisation(session))
    api.add_site(session, ACTOR, application, site_fields())
    api.submit_application(session, ACTOR, application)
    api.return_to_draft(session, ACTOR, application, "Le RIB est illisible.")
    assert application.status == ApplicationStatus.DRAFT


def test_documents_are_sniffed_and_stored_under_a_safe_name(session, storage):
    application = api.create_application(session, ACTOR, make_organisation(session, "entreprise"))
    document = api.store_document(session, ACTOR, application, "rib", "../../etc/rib final.pdf", PNG, storage)
    assert document.content_type == "image/png" and document.stored_name.endswith(".png")
    assert document.original_name == "etc_rib_final.pdf"
    assert api.document_path(storage, document).read_bytes() == PNG
    assert api.document_path(storage, document).parent == storage / str(application.id)
    with pytest.raises(DocumentRejected) as refused:
        api.store_document(session, ACTOR, application, "rib", "rib.pdf", b"MZ\x90\x00 not a pdf", storage)
    assert refused.value.code == "document_type_refused" and "PDF" in refused.value.message
    with pytest.raises(DocumentRejected) as too_large:
        api.store_document(session, ACTOR, application, "rib", "rib.pdf", PDF + b"0" * 100, storage, max_bytes=64)
    assert too_large.value.code == "document_too_large"
    with pytest.raises(DocumentRejected):
        api.store_document(session, ACTOR, application, "rib", "vide.pdf", b"", storage)
    replaced = api.store_document(session, ACTOR, application, "rib", "rib.pdf", PDF, storage)
    assert replaced.id == document.id and replaced.content_type == "application/pdf"


def test_bank_details_are_checked(session):
    application = api.create_application(session, ACTOR, make_organisation(session))
    with pytest.raises(BankDetailsInvalid) as bad_iban:
        api.set_bank_details(session, ACTOR, application, iban="FR76 3000 6000 0112 3456 7890 188", bic=BIC, account_holder="X")
    assert bad_iban.value.field == "iban"
    with pytest.raises(BankDetailsInvalid) as bad_bic:
        api.set_bank_details(session, ACTOR, application, iban=IBAN, bic="AGRI", account_holder="X")
    assert bad_bic.value.field == "bic"
    with pytest.raises(BankDetailsInvalid):
        api.set_bank_details(session, ACTOR, application, iban=IBAN, bic="DEUTDEFF", account_holder="X")
    api.set_bank_details(session, ACTOR, application, iban=IBAN, bic=BIC, account_holder="Structure")
    assert application.iban == "FR7630006000011234567890189"
