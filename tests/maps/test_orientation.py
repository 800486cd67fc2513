"""The orientation flow: plain answers → level and services → place and time → venues accepting the pass → sheet."""

import re
from datetime import UTC, datetime
from html import unescape

import pytest

from directory import api
from maps.orientation import advise, moment_for
from tests.builders import offset, publish_venue

# Wednesday 18 November 2026, 20:00 in Paris.
WEDNESDAY_EVENING = datetime(2026, 11, 18, 19, 0, tzinfo=UTC)


def text_of(response):
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


@pytest.fixture
def quimper(session):
    place = api.resolve_place(session, "Quimper")
    venues = {
        "courriels": publish_venue(session, *offset(place.lon, place.lat, 400), nom="Atelier courriels",
                                   services=["premiers-pas", "messagerie"], telephone="02 98 00 00 00",
                                   horaires="Mo-Fr 09:00-12:00", code_postal="29000", commune="Quimper"),
        "sans_pass": publish_venue(session, *offset(place.lon, place.lat, 200), nom="Sans pass",
                                   services=["messagerie"], accepts_pass=False),
        "samedi": publish_venue(session, *offset(place.lon, place.lat, 900), nom="Ouvert le samedi",
                                services=["messagerie"], horaires="Sa 09:00-12:00"),
    }
    session.commit()
    return venues


def test_beginners_start_at_level_one_with_first_steps(session):
    advice = advise(session, ["courriels"], "jamais")
    assert advice.level == 1 and advice.slugs == ["premiers-pas", "messagerie"]
    comfortable = advise(session, ["emploi"], "aise")
    assert comfortable.level == 3 and comfortable.slugs == ["emploi-et-formation"]
    unsaid = advise(session, ["demarches"], None)
    assert unsaid.level == 2


def test_availability_is_the_next_such_moment_in_paris():
    moment, now_flag = moment_for("semaine-matin", WEDNESDAY_EVENING)
    assert moment.isoformat() == "2026-11-19T10:00:00+01:00" and now_flag is False
    assert moment_for("samedi", WEDNESDAY_EVENING)[0].isoformat() == "2026-11-21T10:30:00+01:00"
    assert moment_for("maintenant", WEDNESDAY_EVENING) == (None, True)
    assert moment_for("", WEDNESDAY_EVENING) == (None, False)


def test_the_flow_suggests_then_lists_venues_accepting_the_pass(client, quimper):
    first = client.get("/orientation")
    assert first.status_code == 200 and "Que voulez-vous faire ?" in text_of(first)
    assert 'name="q"' not in first.get_data(as_text=True)  # the place comes after the questions
    advice = client.get("/orientation?besoin=courriels&sait=courant")
    text = text_of(advice)
    assert "niveau 2" in text and "Utiliser une messagerie électronique" in text and 'name="q"' in advice.get_data(as_text=True)
    found = client.get("/orientation?besoin=courriels&sait=courant&q=quimpr")
    text = text_of(found)
    assert "acceptant le pass à moins de 20 km de Quimper" in text
    assert "Atelier courriels" in text and "Ouvert le samedi" in text and "Sans pass" not in text
    saturday = client.get("/orientation?besoin=courriels&sait=courant&q=Quimper&quand=samedi")
    assert "Ouvert le samedi" in text_of(saturday) and "Atelier courriels" not in text_of(saturday)
    sheet_link = re.search(r'href="(/orientation/fiche/\d+\?[^"]+)">Préparer la fiche d&#39;orientation pour Atelier',
                           found.get_data(as_text=True))
    assert sheet_link and "besoin=courriels" in unescape(sheet_link.group(1))


def test_bad_answers_are_named(client):
    response = client.get("/orientation?besoin=voler")
    assert response.status_code == 400 and "Que voulez-vous faire" in text_of(response)


def test_the_sheet_is_printable_and_holds_no_personal_data(client, quimper):
    venue = quimper["courriels"]
    response = client.get(f"/orientation/fiche/{venue.id}?besoin=courriels&sait=jamais")
    assert response.status_code == 200
    text = text_of(response)
    assert "Fiche d'orientation" in text and "Atelier courriels" in text and "02 98 00 00 00" in text
    assert "Le carnet de chèques APTIC" in text and "rien n'est enregistré" in text
    assert "Prendre en main un ordinateur" in text and "Utiliser une messagerie électronique" in text
    assert re.search(r"(lundi|mardi|mercredi|jeudi|vendredi) \d+ \w+ : 09:00–12:00", text)
    html = response.get_data(as_text=True)
    assert "data-print" in html and "search.css" in html and "mailto:?subject=" in html
    assert "<form" not in html.split('<main', 1)[1].split("</main>")[0]  # nothing to submit, nothing stored


def test_home_and_distributor_menu_link_to_the_flow(client):
    assert 'href="/orientation"' in client.get("/").get_data(as_text=True)
    from directory.models import Role
    from directory.navigation import entries_for
    assert "maps.orientation" in [entry.endpoint for entry in entries_for(Role.DISTRIBUTOR)]
