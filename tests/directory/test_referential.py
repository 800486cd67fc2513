"""The service referential is versioned data loaded into tables."""

import pytest
from sqlalchemy import select

from directory import api
from directory.errors import Conflict, InvalidInput
from directory.models import ReferentialVersion, Service, ServiceLevel


def test_three_levels_and_thirteen_services_are_loaded(session):
    levels = {level.number: level.label for level in session.scalars(select(ServiceLevel))}
    assert levels == {
        1: "Découvrir les enjeux du numérique",
        2: "Maîtriser le numérique",
        3: "Augmenter son pouvoir d'agir grâce au numérique",
    }
    services = api.active_services(session)
    assert len(services) == 13
    assert [s.level_number for s in services] == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3]
    assert services[0].slug == "decouverte-numerique"
    # Version 2026.2 of the file adds the reasoned and reasonable use of digital tools, at level 1.
    assert (services[3].slug, services[3].label) == ("usage-raisonne", "Usage raisonné et raisonnable du numérique")


def test_loading_the_same_version_again_changes_nothing(session):
    assert api.load_referential(session) == {"version": "2026.2", "changed": False}
    assert len(session.scalars(select(ReferentialVersion)).all()) == 1


def test_a_new_version_updates_labels_and_deactivates_removed_services(session, tmp_path):
    source = api.REFERENTIAL_FILE.read_text(encoding="utf-8")
    edited = source.replace('version = "2026.2"', 'version = "2026.3"').replace(
        "Utiliser une messagerie électronique", "Utiliser une messagerie et un agenda en ligne"
    )
    edited = edited[: edited.index('[[services]]\nslug = "equipement-solidaire"')]
    path = tmp_path / "referential.toml"
    path.write_text(edited, encoding="utf-8")

    summary = api.load_referential(session, path)

    assert summary == {"version": "2026.3", "changed": True, "services": 12}
    by_slug = {s.slug: s for s in session.scalars(select(Service))}
    assert by_slug["messagerie"].label == "Utiliser une messagerie et un agenda en ligne"
    assert by_slug["equipement-solidaire"].active is False
    assert "equipement-solidaire" not in [s.slug for s in api.active_services(session)]


def test_reusing_a_version_number_with_other_content_is_refused(session, tmp_path):
    path = tmp_path / "referential.toml"
    path.write_text(api.REFERENTIAL_FILE.read_text(encoding="utf-8").replace("Organiser", "Ranger"), encoding="utf-8")
    with pytest.raises(Conflict) as error:
        api.load_referential(session, path)
    assert error.value.code == "referential_version_reused"


def test_mapping_from_the_national_standard(session):
    daily_tools = api.services_for_standard(session, ["Maîtrise des outils numériques du quotidien"])
    assert [s.slug for s in daily_tools] == ["premiers-pas", "fichiers-et-dossiers", "messagerie"]
    security = api.services_for_standard(session, ["Utilisation sécurisée du numérique"])
    assert [s.slug for s in security] == ["securite", "identite-numerique"]
    assert api.services_for_standard(session, ["Service inconnu"]) == []


def test_unknown_service_slugs_are_named(session):
    with pytest.raises(InvalidInput) as error:
        api.services_by_slugs(session, ["messagerie", "cuisine"])
    assert error.value.code == "unknown_service"
    assert "cuisine" in error.value.message
