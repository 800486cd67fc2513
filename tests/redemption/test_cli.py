"""The whole path from order to statement, scripted through the `aptic` command with --json."""

import json
from datetime import date, timedelta

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import update
from sqlalchemy.orm import Session

from aptic import create_app
from aptic.cli import cli
from directory import api as directory_api
from directory.db import make_engine, utcnow
from redemption.models import Redemption
from tests.builders import ACTOR, make_venue


def run(app, *args):
    result = CliRunner().invoke(cli, [str(a) for a in args], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_order_to_statement_through_the_cli(committed_database_url, tmp_path):
    app = create_app({"DATABASE_URL": committed_database_url, "TESTING": True, "SECRET_KEY": "test",
                      "SERVER_NAME": "aptic.test"})
    engine = make_engine(committed_database_url)
    with Session(engine) as session:
        operator = directory_api.create_organisation(session, ACTOR, name="Médiathèques de Bordeaux",
                                                     legal_form="collectivite", siret="21330063500017",
                                                     is_venue_operator=True)
        venue = make_venue(session, operator, "Médiathèque Mériadeck", "33063", "33000", "Bordeaux", ["premiers-pas"])
        operator_id, venue_id = operator.id, venue.id
        session.commit()

    sponsor = run(app, "sponsors", "create", "--name", "Département de la Gironde", "--legal-form", "collectivite",
                  "--siret", "22330001300016", "--json")
    distributor = run(app, "organisations", "create", "--name", "CCAS de Bordeaux", "--legal-form",
                      "etablissement_public", "--siret", "26330040200017", "--role", "aiguilleur", "--json")
    key = run(app, "api-keys", "create", "--organisation", operator_id, "--venue", venue_id, "--json")
    expires = (date.today() + timedelta(days=365)).isoformat()
    below = CliRunner().invoke(cli, ["orders", "create", "--sponsor", str(sponsor["id"]), "--booklets", "2",
                                     "--territory", "departement:33"], obj=ScriptInfo(create_app=lambda: app))
    assert below.exit_code == 1 and "20\u202f000,00\xa0€" in below.output and "order_below_minimum" in below.output
    order = run(app, "orders", "create", "--sponsor", sponsor["id"], "--booklets", 2, "--expires", expires,
                "--territory", "departement:33",
                "--minimum-exception", "Expérimentation sur un quartier", "--json")
    assert order["minimum_exception"] == "Expérimentation sur un quartier"
    assert order["vintage"] == date.today().year + 1
    assert order["status"] == "draft" and order["face_value_cents"] == 20_000 and order["fee_cents"] == 800
    for step, status in (("confirm", "confirmed"), ("pay", "paid"), ("issue", "issued")):
        assert run(app, "orders", step, order["id"], "--json")["status"] == status
    listing = run(app, "orders", "codes", order["id"], "--json")["cheques"]
    assert len(listing) == 20
    printed = run(app, "orders", "print", order["id"], "--out", tmp_path / "carnets.pdf", "--json")
    assert printed["pages"] == 4 and (tmp_path / "carnets.pdf").stat().st_size > 1000
    booklet = listing[0]["booklet"]
    allowed = run(app, "orders", "allow-distributor", order["id"], "--distributor", distributor["id"], "--json")
    assert allowed["first"] is None and allowed["distributor_id"] == distributor["id"]
    marie = ["--nom", "Dupont", "--prenom", "Marie", "--date-naissance", "1950-07-14"]
    run(app, "distributions", "record", "--booklet", listing[10]["booklet"], "--distributor", distributor["id"],
        *marie, "--json")
    again = CliRunner().invoke(cli, ["distributions", "record", "--booklet", booklet, "--distributor",
                                     str(distributor["id"]), "--nom", "DUPONT", "--prenom", "marie",
                                     "--date-naissance", "1950-07-14"], obj=ScriptInfo(create_app=lambda: app))
    assert again.exit_code == 1 and "[beneficiary_already_served]" in again.output and "CCAS de Bordeaux" in again.output
    undone = run(app, "distributions", "undo", "--booklet", listing[10]["booklet"], "--distributor", distributor["id"],
                 "--reason", "erreur de carnet", "--json")
    assert undone["distributed"] is False
    run(app, "distributions", "record", "--booklet", booklet, "--distributor", distributor["id"], *marie, "--json")
    assert run(app, "orders", "allow-distributor", order["id"], "--distributor", distributor["id"], "--first", 1,
               "--last", 1, "--json")["last"] == 1
    assert run(app, "orders", "distributors", order["id"], "--json")["distributors"][0]["first"] == 1
    right = run(app, "redeeming-right", "set", "--venue", venue_id, "--distribution-only", "--reason", "MFS", "--json")
    assert right == {"kind": "venue", "id": venue_id, "distribution_only": True, "changed": True}
    run(app, "redeeming-right", "set", "--venue", venue_id, "--can-redeem", "--reason", "erreur", "--json")

    client = app.test_client()
    response = client.post("/api/v1/redemptions", json={"codes": [listing[0]["printed"], listing[1]["printed"]],
                                                        "service": "premiers-pas"},
                           headers={"Authorization": f"Bearer {key['token']}"})
    assert response.status_code == 201, response.get_json()
    last_month = (utcnow().date().replace(day=1) - timedelta(days=1)).replace(day=15)
    with engine.begin() as connection:
        connection.execute(update(Redemption).values(created_at=utcnow().replace(
            year=last_month.year, month=last_month.month, day=15)))
    month = last_month.strftime("%Y-%m")
    closed = run(app, "statements", "close", "--month", month, "--csv", tmp_path / "r.csv", "--pdf", tmp_path / "r.pdf",
                 "--json")
    assert closed["created"] == 1
    statement = closed["statements"][0]
    assert (statement["gross_cents"], statement["commission_cents"], statement["fee_cents"], statement["net_cents"]) == (
        2000, 80, 700, 1220)
    assert "1220" in (tmp_path / "r.csv").read_text() and (tmp_path / "r.pdf").exists()
    again = run(app, "statements", "close", "--month", month, "--json")
    assert again["created"] == 0 and again["statements"][0]["number"] == statement["number"]
    engine.dispose()
    app.extensions["aptic.db"].engine.dispose()


def test_cli_errors_are_french_with_the_code(committed_database_url):
    app = create_app({"DATABASE_URL": committed_database_url, "TESTING": True, "SECRET_KEY": "test"})
    result = CliRunner().invoke(cli, ["orders", "confirm", "999999"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 1 and "[unknown_order]" in result.output and "n'existe pas" in result.output
    result = CliRunner().invoke(cli, ["statements", "close", "--month", "2026-13"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 1 and "[invalid_month]" in result.output
    app.extensions["aptic.db"].engine.dispose()
