"""Schemathesis over /api/v1/openapi.json: generated valid and invalid requests against every
operation, on both backends. No answer may be a 5xx, and every answer (status, content type,
body) must be one the document declares.

Bounded: a fixed number of examples per operation and generation mode, derandomised so a
failure is reproducible, no shrinking.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from aptic import create_app
from directory import api as directory_api
from tests.ban_server import BanServer
from tests.builders import ACTOR, CAHORS, offset, publish_venue

EXAMPLES_PER_MODE = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_app(database_url: str, connection: Connection, tmp_path: Path, ban: BanServer) -> Flask:
    # Rate limits would answer most generated requests with a (documented) 429: test the operations.
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "RATELIMIT_ENABLED": False,
                      "GEOCODER_URL": ban.url,
                      "QUALIFICATION_UPLOAD_DIR": str(tmp_path)})
    app.extensions["aptic.db"].bind_to(connection)
    return app


def test_every_operation_answers_within_its_document(api_app: Flask, session: Session) -> None:
    publish_venue(session, *CAHORS, nom="Médiathèque de Cahors")
    venue = publish_venue(session, *offset(*CAHORS, 800), nom="=HYPERLIEN(\"x\")")
    operator = directory_api.create_organisation(session, ACTOR, name="Réseau test", legal_form="association",
                                                 rna="W461000001", is_venue_operator=True)
    venue.organisation_id = operator.id
    session.flush()
    _, token = directory_api.create_api_key(session, ACTOR, operator, "douchette", venue)
    session.commit()

    document = api_app.test_client().get("/api/v1/openapi.json").get_json()
    # Every status is listed: a catch-all `default` would let any status pass the conformance check.
    assert not [path for path, ops in document["paths"].items() for op in ops.values()
                if isinstance(op, dict) and "default" in op.get("responses", {})]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    requests, failures, statuses = 0, [], {}

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def probe(case) -> None:
                nonlocal requests
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"} \
                    if "Authorization" not in (case.headers or {}) else case.headers
                # Answers are compressed when asked; schemathesis' WSGI transport would not decode them.
                case.headers["Accept-Encoding"] = "identity"
                response = case.call(app=api_app)
                requests += 1
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - collected, reported below
                    causes = getattr(failure, "exceptions", (failure,))
                    failures.append(f"{operation.label} [{mode.value}] → {response.status_code}: " + "; ".join(
                        f"{type(cause).__name__}: {' '.join(str(cause).split())[:400]}" for cause in causes))

            probe()

    print(f"\nschemathesis: {len(operations)} operations, {requests} requests, {len(failures)} failures; statuses {dict(sorted(statuses.items()))}")
    assert len(operations) >= 8
    assert not failures, "\n".join(dict.fromkeys(failures))
