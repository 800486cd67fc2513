"""Uploaded documents on disk: a replaced file is deleted once the replacement commits; orphans are swept."""

from __future__ import annotations

import os
import time

from click.testing import CliRunner
from flask.cli import ScriptInfo

from aptic import create_app
from aptic.cli import cli
from qualification import api
from qualification.uploads import sweep_orphans
from tests.builders import ACTOR, PDF, make_organisation


def _files(storage):
    return sorted(p.name for p in storage.glob("*/*"))


def test_a_replaced_document_leaves_one_file_after_the_commit(session, storage):
    application = api.create_application(session, ACTOR, make_organisation(session))
    session.commit()
    kind = next(iter(api.required_documents(application.organisation.legal_form)))
    for attempt in range(3):
        api.store_document(session, ACTOR, application, kind, "statuts.pdf", PDF + bytes([attempt]), storage)
        session.commit()
    assert len(_files(storage)) == 1
    assert _files(storage) == [application.documents[0].stored_name]


def test_a_rolled_back_replacement_keeps_the_file_the_row_still_names(session, storage):
    application = api.create_application(session, ACTOR, make_organisation(session))
    kind = next(iter(api.required_documents(application.organisation.legal_form)))
    api.store_document(session, ACTOR, application, kind, "statuts.pdf", PDF, storage)
    session.commit()
    kept = application.documents[0].stored_name
    api.store_document(session, ACTOR, application, kind, "statuts.pdf", PDF + b"2", storage)
    session.rollback()
    assert kept in _files(storage)
    # The new file of the rolled-back upload is an orphan: the sweep removes it once past the grace period.
    assert len(_files(storage)) == 2
    report = sweep_orphans(session, storage, grace_seconds=3600)
    assert report.removed == [] and report.kept == 2
    old = time.time() - 7200
    for path in storage.glob("*/*"):
        os.utime(path, (old, old))
    report = sweep_orphans(session, storage, grace_seconds=3600)
    assert [p.name for p in report.removed] != [kept] and len(report.removed) == 1
    assert _files(storage) == [kept]


def test_the_sweep_command(database_url, connection, session, tmp_path):
    application = api.create_application(session, ACTOR, make_organisation(session))
    orphan = tmp_path / str(application.id) / "abandonne.pdf"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(PDF)
    os.utime(orphan, (time.time() - 3 * 86400,) * 2)
    session.commit()
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "QUALIFICATION_UPLOAD_DIR": str(tmp_path)})
    app.extensions["aptic.db"].bind_to(connection)
    result = CliRunner().invoke(cli, ["qualification", "sweep-uploads", "--dry-run"],
                                obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert "1 fichier orphelin à supprimer (0,0 Mo) ; 0 fichier conservé." in result.output
    assert orphan.exists()
    result = CliRunner().invoke(cli, ["qualification", "sweep-uploads"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0 and "1 fichier orphelin supprimé (" in result.output
    assert not orphan.exists()
