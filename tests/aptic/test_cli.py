"""The `aptic` command end to end on a fresh embedded database."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from aptic import create_app
from aptic.cli import cli
from directory.db import make_engine
from directory.models import Organisation, Venue, VenueStatus


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    """A SpatiaLite demo database built once by the real `aptic demo --no-serve`."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    app = create_app({"DATABASE_URL": url, "TESTING": True,
                      "QUALIFICATION_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--venues", "200"], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    app.demo_output = result.output
    return app


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def run(app, *args, input=None):
    return CliRunner().invoke(cli, list(args), obj=_script_info(app), input=input)


def test_demo_builds_venues_accounts_and_a_key(demo_app):
    output = demo_app.demo_output
    assert "Base de démonstration construite" in output
    assert "equipe@aptic.demo" in output and "lieu@aptic.demo" in output
    assert "Clé d'API du lieu" in output and "aptic_" in output
    engine = make_engine(demo_app.config["DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Venue)) == 200
        qualified = connection.scalar(select(func.count()).select_from(Venue).where(Venue.status == VenueStatus.QUALIFIED))
        assert 100 < qualified < 200
    engine.dispose()


def test_demo_is_idempotent(demo_app):
    result = run(demo_app, "demo", "--no-serve")
    assert result.exit_code == 0
    assert "déjà présentes" in result.output


def test_db_upgrade(demo_app):
    result = run(demo_app, "db", "upgrade")
    assert result.exit_code == 0 and "Schéma à jour" in result.output


def test_create_organisation_with_json_output(demo_app):
    result = run(demo_app, "organisations", "create", "--name", "Ville de Pau", "--legal-form", "collectivite",
                 "--siret", "21640445900010", "--role", "commanditaire", "--role", "aiguilleur", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["roles"] == ["commanditaire", "aiguilleur"] and payload["siret"] == "21640445900010"


def test_bad_input_on_the_command_line_is_a_french_error_and_changes_nothing(demo_app):
    engine = make_engine(demo_app.config["DATABASE_URL"])
    with engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(Organisation))
    result = run(demo_app, "organisations", "create", "--name", "X", "--legal-form", "association",
                 "--siret", "12345678901234", "--role", "lieu")
    assert result.exit_code == 1
    assert "clé de contrôle (Luhn) est fausse. (champ « siret ») [invalid_siret]" in result.output
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Organisation)) == before
    engine.dispose()


def test_users_and_api_keys(demo_app):
    created = json.loads(run(demo_app, "organisations", "create", "--name", "Tiers-lieu", "--legal-form", "association",
                             "--rna", "W332000123", "--role", "lieu", "--json").output)
    user = run(demo_app, "users", "create", "--email", "new@example.fr", "--name", "Nouvel", "--organisation",
               str(created["id"]), "--role", "venue_staff", "--json", input="long enough pw\nlong enough pw\n")
    assert user.exit_code == 0, user.output
    key = json.loads(run(demo_app, "api-keys", "create", "--organisation", str(created["id"]), "--json").output)
    assert key["token"].startswith(f"aptic_{key['prefix']}_")


def test_the_demo_distributor_hands_out_a_booklet_in_the_browser(demo_app):
    from directory.demo import DEMO_PASSWORD
    from redemption.models import BeneficiaryClaim, Booklet, DistributionAllowance
    from tests.builders import csrf_token_from, sign_in

    engine = make_engine(demo_app.config["DATABASE_URL"])
    with engine.connect() as connection:
        order_id = connection.scalar(select(func.min(DistributionAllowance.order_id)))
        free = connection.scalars(select(Booklet.number).where(Booklet.order_id == order_id,
                                                               Booklet.distributed_at.is_(None))
                                  .order_by(Booklet.sequence).limit(2)).all()
        # Seeded distributions carry pseudonyms, one claim each.
        claims = connection.scalar(select(func.count()).select_from(BeneficiaryClaim))
        distributed = connection.scalar(select(func.count()).select_from(Booklet).where(Booklet.distributed_at.is_not(None)))
    engine.dispose()
    assert claims == distributed > 0 and len(free) == 2
    client = demo_app.test_client()
    assert sign_in(client, "aiguilleur@aptic.demo", DEMO_PASSWORD).status_code == 302
    page = client.get("/pass/distribution").get_data(as_text=True)
    person = {"nom": "Martin", "prenom": "Léa", "date_naissance": "1948-03-02", "csrf_token": csrf_token_from(page)}
    done = client.post("/pass/distribution", data={**person, "booklet": free[0]})
    assert done.status_code == 201, done.get_data(as_text=True)
    again = client.post("/pass/distribution", data={**person, "nom": "MARTIN", "prenom": "lea", "booklet": free[1]})
    assert again.status_code == 409 and 'data-code="beneficiary_already_served"' in again.get_data(as_text=True)
    history = client.get("/pass/distribution/remises").get_data(as_text=True)
    assert f'data-booklet="{free[0]}"' in history and 'data-action="undo"' in history


def test_demo_seeds_a_state_call_with_an_accepted_and_a_refused_application(demo_app):
    assert "Cofinancement : appel n°" in demo_app.demo_output and "refusée" in demo_app.demo_output
    result = CliRunner().invoke(cli, ["cofunding", "calls", "list", "--json"], obj=_script_info(demo_app))
    (call,) = json.loads(result.output)["calls"]
    assert (call["funder"], call["share_bp"], call["envelope_cents"]) == ("État", 5_000, 1_500_000_000)
    assert call["committed_cents"] == 300_000  # 50 % of the Gironde's 6 000 € demo order
    report = json.loads(CliRunner().invoke(cli, ["cofunding", "follow-up", str(call["id"]), "--json"],
                                           obj=_script_info(demo_app)).output)
    assert report["totals"]["committed_cents"] == 300_000 and report["totals"]["redeemed_cents"] > 0
    assert [row["name"] for row in report["by_departement"]] == ["Gironde"]
