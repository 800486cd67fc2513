"""`aptic demo` shows the vigilance and the journeys: planted anomalies raise signals, the showcase order's
journeys page shows the funnel and the level progression; `aptic signals` reads them as JSON."""

import json

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic import create_app
from aptic.cli import cli
from directory.demo import DEMO_PASSWORD
from tests.builders import sign_in


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('vigilance-demo') / 'demo.db'}"
    app = create_app({"DATABASE_URL": url, "TESTING": True, "RATELIMIT_ENABLED": False,
                      "QUALIFICATION_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--venues", "200"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    app.demo_output = result.output
    return app


def run(app, *args):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_planted_anomalies_are_listed_with_their_explanation(demo_app):
    assert "Vigilance : anomalies plantées" in demo_app.demo_output
    listed = json.loads(run(demo_app, "signals", "list", "--json").output)["signals"]
    kinds = {s["kind"] for s in listed}
    assert {"hourly_volume", "refusal_burst"} <= kinds
    hourly = next(s for s in listed if s["kind"] == "hourly_volume")
    assert "9 prestations" in hourly["explanation"] and len(hourly["redemption_ids"]) == 9
    client = demo_app.test_client()
    sign_in(client, "equipe@aptic.demo", DEMO_PASSWORD)
    page = client.get("/pass/signaux").get_data(as_text=True)
    assert hourly["explanation"].replace("'", "&#39;") in page or hourly["explanation"] in page
    assert client.get("/pass/controles").status_code == 200
    marked = run(demo_app, "signals", "mark", str(hourly["id"]), "--status", "justified", "--comment",
                 "Atelier collectif", "--json")
    assert json.loads(marked.output)["status"] == "justified"


def test_the_showcase_order_journeys_show_the_funnel_and_the_progression(demo_app):
    client = demo_app.test_client()
    sign_in(client, "equipe@aptic.demo", DEMO_PASSWORD)
    html = client.get("/pass/commandes/1/parcours").get_data(as_text=True)
    assert "Entonnoir des carnets" in html and "Atteignent le niveau" in html
    body = client.get("/api/v1/orders/1/journeys").get_json()
    assert not body["overall"]["hidden"] and body["overall"]["progression"]


def test_signals_and_controls_from_the_command_line(demo_app):
    computed = run(demo_app, "signals", "compute", "--json")
    assert computed.exit_code == 0, computed.output
    assert json.loads(computed.output)["created"] == 0  # the demo computed them already: nothing twice
    proposed = json.loads(run(demo_app, "controls", "propose", "--month", "2027-01", "--size", "3", "--json").output)
    first = proposed["controls"][0]
    recorded = run(demo_app, "controls", "record", str(first["id"]), "--result", "failed", "--documents-checked",
                   "--comment", "Statuts absents", "--suspend", "--json")
    assert json.loads(recorded.output)["venue_suspended"] is True
    wrong = run(demo_app, "controls", "propose", "--month", "2027-13")
    assert wrong.exit_code != 0 and "AAAA-MM" in wrong.output
