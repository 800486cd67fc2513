"""Operator commands: quotas, density, decisions, rebuild and its history."""

import json

from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic.cli import cli
from directory import api as directory_api
from directory.models import VenueStatus
from qualification import api as qualification_api
from qualification.models import ApplicationStatus, VenueOutcome
from tests.builders import ACTOR, CAHORS, GRAND_CAHORS, complete_application, offset, qualified_venue, site_fields


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


def test_qualifying_by_hand_in_a_full_territory_needs_a_recorded_override(app, session, storage):
    qualified_venue(session)
    qualified_venue(session, offset(*CAHORS, 1_000))
    application = complete_application(session, storage, offset(*CAHORS, 2_000))
    qualification_api.decide(session, ACTOR, application)
    (site,) = application.sites
    session.commit()
    result = run(app, "qualification", "venue-status", str(site.venue_id), "--to", "qualified", "--reason", "Demande du maire")
    assert result.exit_code == 1
    assert ("Quota atteint : CA du Grand Cahors compte 2 lieu(x) qualifié(s) pour un quota de 2 ; "
            f"le lieu n° {site.venue_id} reste en liste d'attente.") in result.output
    assert "[quota_reached]" in result.output
    session.expire_all()
    assert (site.venue.status, application.status) == (VenueStatus.CANDIDATE, ApplicationStatus.WAITLISTED)

    result = run(app, "qualification", "venue-status", str(site.venue_id), "--to", "qualified", "--override",
                 "--reason", "Seul lieu ouvert le samedi.")
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert (site.venue.status, site.outcome, application.status) == (
        VenueStatus.QUALIFIED, VenueOutcome.QUALIFIED, ApplicationStatus.QUALIFIED)
    decision = qualification_api.decisions_of(session, application)[-1]
    assert (decision.rule, decision.quota, decision.qualified_before) == ("staff_override", 2, 2)
    assert decision.sentence.endswith("Motif : Seul lieu ouvert le samedi.")


def test_a_venue_without_a_waitlisted_file_is_not_qualified_by_hand(app, session):
    venue = directory_api.create_venue(session, ACTOR, site_fields(offset(*CAHORS, 3_000)))
    session.commit()
    result = run(app, "qualification", "venue-status", str(venue.id), "--to", "qualified", "--override", "--reason", "Essai")
    assert result.exit_code == 1 and "[no_open_application]" in result.output
    session.expire_all()
    assert venue.status == VenueStatus.CANDIDATE
