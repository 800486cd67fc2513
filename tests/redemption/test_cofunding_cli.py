"""`aptic cofunding …` with --json: the worked example of the README, from the call to the follow-up CSV."""

from datetime import date, timedelta

from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic import create_app
from aptic.cli import cli
from tests.redemption.test_cli import run


def test_the_200000_euro_example_through_the_cli(committed_database_url, tmp_path):
    app = create_app({"DATABASE_URL": committed_database_url, "TESTING": True, "SECRET_KEY": "test"})
    today = date.today()
    call = run(app, "cofunding", "calls", "create", "--name", "Pass numérique 2020", "--envelope-cents", 1_500_000_000,
               "--opens", (today - timedelta(days=1)).isoformat(), "--closes", (today + timedelta(days=60)).isoformat(),
               "--json")
    assert (call["funder"], call["share_bp"], call["status"]) == ("État", 5_000, "open")
    gironde = run(app, "sponsors", "create", "--name", "Département de la Gironde", "--legal-form", "collectivite",
                  "--siret", "22330001300016", "--code-insee", "33063", "--json")
    order = run(app, "orders", "create", "--sponsor", gironde["id"], "--booklets", 2_000, "--territory",
                "departement:33", "--json")
    assert order["face_value_cents"] == 20_000_000 and order["sponsor_share_cents"] == 20_000_000
    application = run(app, "cofunding", "applications", "create", "--call", call["id"], "--lead", gironde["id"],
                      "--lead-kind", "departement", "--json")
    run(app, "cofunding", "applications", "file", application["id"], "--priority-publics", 5_000,
        "--precarity-publics", 5_000, "--how-to-reach", "CCAS, missions locales", "--area", "departement:33",
        "--structuring", "Réseau départemental", "--european-funds", "aucun", "--partners", "CAF",
        "--budget-cents", 30_000_000, "--json")
    run(app, "cofunding", "applications", "cover", application["id"], "--order", order["id"], "--json")
    assert run(app, "cofunding", "applications", "submit", application["id"], "--json")["status"] == "submitted"
    accepted = run(app, "cofunding", "applications", "accept", application["id"], "--json")
    (shares,) = accepted["orders"]
    assert (shares["face_value_cents"], shares["fee_cents"], shares["funder_cents"], shares["sponsor_cents"]) == (
        20_000_000, 800_000, 10_000_000, 10_000_000)
    report = run(app, "cofunding", "follow-up", call["id"], "--csv", tmp_path / "suivi.csv", "--json")
    assert (report["totals"]["envelope_cents"], report["totals"]["committed_cents"]) == (1_500_000_000, 10_000_000)
    assert "total;;Pass numérique 2020;1500000000;20000000;10000000" in (tmp_path / "suivi.csv").read_text()
    text = CliRunner().invoke(cli, ["cofunding", "applications", "show", str(application["id"])],
                              obj=ScriptInfo(create_app=lambda: app)).output
    assert "financeur 100\u202f000,00\xa0€, commanditaire 100\u202f000,00\xa0€" in text

    commune = run(app, "sponsors", "create", "--name", "Ville de Bègles", "--legal-form", "collectivite",
                  "--siret", "94580730325709", "--json")
    alone = run(app, "cofunding", "applications", "create", "--call", call["id"], "--lead", commune["id"],
                "--lead-kind", "commune", "--json")
    refused = CliRunner().invoke(cli, ["cofunding", "applications", "submit", str(alone["id"])],
                                 obj=ScriptInfo(create_app=lambda: app))
    assert refused.exit_code == 1 and "[commune_alone]" in refused.output and "ne peut pas candidater seule" in refused.output
    app.extensions["aptic.db"].engine.dispose()
