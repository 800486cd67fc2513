"""The venue field specification: one cleaner per field, shared by the directory, the importer and the exports."""

from datetime import UTC, date, datetime

import pytest

from directory import api
from directory.errors import InvalidInput
from ingestion import exports, standard
from tests.builders import ACTOR

LYON = {"nom": "Médiathèque", "adresse": "1 place Bellecour", "code_postal": "69002", "commune": "Lyon",
        "code_insee": "69123"}
ROW = {"id": "1", "nom": "Médiathèque", "adresse": "1 place Bellecour", "code_postal": "69002", "commune": "Lyon",
       "date_maj": "2024-05-01"}


@pytest.mark.parametrize("written", ["04 78 62 18 00", "04.78.62.18.00", "04-78-62-18-00", "04/78/62/18/00",
                                     "(04) 78 62 18 00", "+33 4 78 62 18 00"])
def test_one_phone_normaliser_forgives_the_usual_separators(written):
    assert api.normalize_phone(written) == "+33478621800"


def test_the_directory_and_the_importer_read_a_phone_with_slashes_alike(session):
    venue = api.create_venue(session, ACTOR, {**LYON, "telephone": "04/78/62/18/00"})
    row = standard.RowCleaner(standard.V1).clean(1, {**ROW, "telephone": "04/78/62/18/00"})
    assert venue.telephone == row.record["telephone"] == "+33478621800"
    assert row.issues == []


def test_a_bad_phone_is_refused_by_the_directory_and_left_out_by_the_importer(session):
    with pytest.raises(InvalidInput) as error:
        api.create_venue(session, ACTOR, {**LYON, "telephone": "12/34"})
    assert error.value.message == "Le numéro de téléphone « 12/34 » n'est pas valide (ex. +33123456789)."
    [issue] = standard.RowCleaner(standard.V1).clean(1, {**ROW, "telephone": "12/34"}).issues
    assert issue.message == "Le numéro de téléphone « 12/34 » n'est pas valide (ex. +33123456789) : ignoré."


@pytest.mark.parametrize(("value", "parsed"), [
    ("2024-05-01", date(2024, 5, 1)),
    ("2024-05-01T10:00:00+02:00", date(2024, 5, 1)),
    (date(2024, 5, 1), date(2024, 5, 1)),
    (datetime(2024, 5, 1, 23, 0, tzinfo=UTC), date(2024, 5, 1)),
    ("", None),
    (None, None),
])
def test_one_date_parser(value, parsed):
    assert api.parse_date(value) == parsed


def test_a_bad_date_names_the_field():
    with pytest.raises(InvalidInput) as error:
        api.parse_date("01/05/2024", "date_maj")
    assert (error.value.field, error.value.code) == ("date_maj", "invalid_date")


def test_the_vocabularies_are_those_of_the_schema_file():
    with_vocabulary = [spec for spec in api.VENUE_FIELDS if spec.vocabulary]
    assert len(with_vocabulary) == 9
    for spec in with_vocabulary:
        assert spec.vocabulary == standard.allowed_values(standard.V1, spec.standard_name), spec.name


def test_every_column_of_the_standard_is_a_declared_field_or_written_by_the_export():
    declared = {spec.standard_name for spec in api.VENUE_FIELDS if spec.standard_name}
    assert set(standard.field_names(standard.V1)) - declared == {"id", "latitude", "longitude"}


def test_the_importer_records_hold_the_declared_fields():
    record_fields = (*standard.RECORD_TEXT_FIELDS, *standard.RECORD_LIST_FIELDS, *standard.RECORD_FLAG_FIELDS)
    assert sorted(record_fields) == sorted(api.VENUE_FIELD)


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"frais_a_charge": ["Gratuit", "Sur devis"]}, "frais_a_charge", "invalid_value"),
    ({"standard_services": ["Jardinage"]}, "standard_services", "invalid_value"),
    ({"nom": "x" * 301}, "nom", "too_long"),
    ({"presentation_resume": "x" * 281}, "presentation_resume", "too_long"),
    ({"prise_rdv": "https://exemple.fr/" + "x" * 500}, "prise_rdv", "invalid_url"),
    ({"pivot": "12345678901234"}, "pivot", "invalid_siret"),
])
def test_the_directory_refuses_what_the_standard_does_not_allow(session, overrides, field, code):
    with pytest.raises(InvalidInput) as error:
        api.create_venue(session, ACTOR, {**LYON, **overrides})
    assert (error.value.field, error.value.code) == (field, code)


def test_a_website_without_scheme_is_read_as_https(session):
    venue = api.create_venue(session, ACTOR, {**LYON, "site_web": "www.bm-lyon.fr"})
    assert venue.site_web == ["https://www.bm-lyon.fr"]


def test_the_export_writes_each_field_under_its_name_in_the_standard(session):
    venue = api.create_venue(session, ACTOR, {**LYON, "standard_services": ["Aide aux démarches administratives"],
                                              "frais_a_charge": ["Gratuit"], "accepts_pass": True})
    row = exports.venue_row(venue)
    assert row["services"] == "Aide aux démarches administratives"
    assert row["frais_a_charge"] == "Gratuit"
    assert row["autres_formations_labels"] == standard.PASS_TEXT
    assert "standard_services" not in row and "accepts_pass" not in row
