"""Operator commands: quotas, density, decisions, rebuild and its history."""

import json

from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic.cli import cli
from tests.builders import CAHORS, GRAND_CAHORS, complete_application, offset, qualified_venue


def run(app, *args):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_quota_override_density_decision_and_rebuild(app, session, storage):
    closing = qualified_venue(session, offset(*CAHORS, 1_000))
    qualified_venue(session)
    application = complete_application(session, storage)
    session.commit()
    result = run(app, "qualification", "quota", "override", "--level", "epci", "--code", GRAND_CAHORS, "--quota", "1",
                 "--reason", "Essai")
    assert result.exit_code == 0, result.output
    assert f"Territoire epci {GRAND_CAHORS} : quota fixé à 1." in result.output
    result = run(app, "qualification", "density", "--over-quota", "--json")
    assert result.exit_code == 0, result.output
    assert [row["code"] for row in json.loads(result.output)["territories"]] == [GRAND_CAHORS]
    result = run(app, "qualification", "decide", str(application.id))
    assert result.exit_code == 0 and result.output.startswith("Mis en liste d'attente : CA du Grand Cahors")
    assert "CA du Grand Cahors" not in run(app, "qualification", "waitlist").output  # lists the venue, not the EPCI
    assert f"Dossier n° {application.id}" in run(app, "qualification", "waitlist").output
    result = run(app, "qualification", "decide", str(application.id))
    assert result.exit_code == 1 and "[invalid_transition]" in result.output
    result = run(app, "qualification", "venue-status", str(closing.id), "--to", "closed", "--reason", "Fermeture définitive.")
    assert result.exit_code == 0 and "lors de la prochaine reconstruction" in result.output
    result = run(app, "cartography", "rebuild")
    assert result.exit_code == 0, result.output
    assert "Réussie" in result.output and "1 lieux publiés" in result.output and "1 retirés" in result.output
    result = run(app, "cartography", "runs", "--json")
    (latest,) = json.loads(result.output)["runs"]
    assert (latest["status"], latest["trigger"], latest["published"]) == ("succeeded", "cli", 1)
    assert latest["actor"].startswith("cli:")
