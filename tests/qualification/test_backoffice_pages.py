"""Back-office pages: an application's documents downloaded by staff and the applicant only; quota rule and
per-territory overrides set and cleared from forms, with a reason."""

from directory.models import Role
from qualification import api
from qualification.models import QuotaOverride
from tests.builders import PDF, aptic_staff, complete_application, csrf_token_from, make_organisation, member, sign_in


def test_documents_are_downloaded_by_staff_and_the_applicant_only(app, client, session, storage):
    app.config["QUALIFICATION_UPLOAD_DIR"] = str(storage)
    application = complete_application(session, storage)
    member(session, application.organisation, Role.VENUE_STAFF, "lieu@exemple.fr")
    member(session, make_organisation(session, "association", siret=False), Role.VENUE_STAFF, "autre@exemple.fr")
    aptic_staff(session)
    session.commit()
    document = application.documents[0]
    url = f"/qualification/dossiers/{application.id}/documents/{document.id}"

    sign_in(client, "equipe@aptic-exemple.fr")
    page = client.get(f"/qualification/dossiers/{application.id}").get_data(as_text=True)
    assert f'href="{url}"' in page and "Documents déposés" in page
    response = client.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert document.original_name in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    assert client.get(f"/qualification/dossiers/{application.id}/documents/999999").status_code == 404
    client.post("/deconnexion", data={"csrf_token": csrf_token_from(page)})

    sign_in(client, "lieu@exemple.fr")
    assert client.get(url).status_code == 200
    client.post("/deconnexion", data={"csrf_token": csrf_token_from(client.get("/compte").get_data(as_text=True))})
    sign_in(client, "autre@exemple.fr")
    assert client.get(url).status_code == 403


def test_staff_sets_and_clears_the_policy_and_an_override_with_a_reason(client, session):
    aptic_staff(session)
    session.commit()
    sign_in(client, "equipe@aptic-exemple.fr")
    home = client.get("/compte").get_data(as_text=True)
    assert 'href="/qualification/quotas/"' in home  # in the staff menu
    token = csrf_token_from(client.get("/qualification/quotas/").get_data(as_text=True))

    missing = client.post("/qualification/quotas/territoires", data={
        "csrf_token": token, "level": "departement", "code": "46", "quota": "3", "reason": ""})
    assert missing.status_code == 422 and "Indiquez le motif" in missing.get_data(as_text=True)
    assert session.query(QuotaOverride).count() == 0
    unknown = client.post("/qualification/quotas/territoires", data={
        "csrf_token": token, "level": "departement", "code": "999", "quota": "3", "reason": "essai"})
    assert unknown.status_code == 404 and 'data-code="unknown_territory"' in unknown.get_data(as_text=True)

    done = client.post("/qualification/quotas/territoires", data={
        "csrf_token": token, "level": "departement", "code": "46", "quota": "3", "reason": "Territoire rural"})
    assert done.status_code == 302
    page = client.get("/qualification/quotas/").get_data(as_text=True)
    assert "Lot" in page and "quota de 3" in page and "Territoire rural" in page

    refused = client.post("/qualification/quotas/territoires/retirer", data={
        "csrf_token": token, "level": "departement", "code": "46", "reason": ""})
    assert refused.status_code == 422 and session.query(QuotaOverride).count() == 1
    cleared = client.post("/qualification/quotas/territoires/retirer", data={
        "csrf_token": token, "level": "departement", "code": "46", "reason": "Retour à la règle"})
    assert cleared.status_code == 302 and session.query(QuotaOverride).count() == 0

    bad_ratio = client.post("/qualification/quotas/regle", data={
        "csrf_token": token, "level": "epci", "ratio": "zéro", "reason": "essai"})
    assert bad_ratio.status_code == 422 and "Le ratio doit être" in bad_ratio.get_data(as_text=True)
    policy = client.post("/qualification/quotas/regle", data={
        "csrf_token": token, "level": "departement", "ratio": "20000", "reason": "Nouvelle règle"})
    assert policy.status_code == 302
    assert api.current_policy(session).ratio == 20000 and api.current_policy(session).level == "departement"
