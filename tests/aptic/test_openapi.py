"""The generated OpenAPI document describes every route of the JSON API, its parameters and its errors."""

from __future__ import annotations

import re

import pytest

from aptic import create_app

API_PREFIX = "/api/v1/"
DOCUMENT_PATH = "/api/v1/openapi.json"
FLASK_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The document needs no database: an app on an untouched SpatiaLite file is enough."""
    database = tmp_path_factory.mktemp("openapi") / "aptic.db"
    return create_app({"DATABASE_URL": f"sqlite:///{database}", "TESTING": True})


@pytest.fixture(scope="module")
def document(app):
    response = app.test_client().get(DOCUMENT_PATH)
    assert response.status_code == 200
    return response.get_json()


def api_operations(app):
    """(OpenAPI path, method, Flask rule) of every route under /api/v1/ but the document itself."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX) and rule.rule != DOCUMENT_PATH:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield FLASK_ARGUMENT.sub(r"{\1}", rule.rule), method.lower(), rule


def test_every_api_route_is_in_the_document(app, document):
    operations = list(api_operations(app))
    assert len(operations) >= 8
    missing = [f"{method.upper()} {path}" for path, method, _ in operations
               if method not in document["paths"].get(path, {})]
    assert missing == []


def test_every_operation_documents_its_parameters_and_errors(app, document):
    for path, method, rule in api_operations(app):
        item = document["paths"][path]
        operation = item[method]
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        parameters = item.get("parameters", []) + operation.get("parameters", [])
        assert parameters or operation.get("requestBody"), where
        assert {(name, "path") for name in rule.arguments} <= {(p["name"], p["in"]) for p in parameters}, where
        for parameter in parameters:
            assert parameter.get("schema"), f"{where}: {parameter['name']}"
        errors = {status: answer for status, answer in operation["responses"].items()
                  if status.isdigit() and int(status) >= 400}
        assert errors, where
        for status, answer in errors.items():
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, f"{where}: {status}"


def test_error_codes_and_query_parameters_of_the_public_api(document):
    nearby = document["paths"]["/api/v1/venues/nearby"]["get"]
    assert "`unknown_place`" in nearby["responses"]["400"]["description"]
    assert {p["name"] for p in nearby["parameters"] if p["in"] == "query"} == {
        "lat", "lon", "q", "commune", "radius_km", "limit", "offset", "service", "level", "fees", "support", "public",
        "care", "open_now", "open_at", "accepts_pass",
    }
    assert "`ambiguous_place`" in nearby["responses"]["400"]["description"]
    # the geocoder down falls back to the commune: its 503 is gone (a busy database may still answer one)
    assert "geocoder_unavailable" not in str(nearby["responses"])
    suggestions = document["paths"]["/api/v1/adresses"]["get"]
    assert {p["name"] for p in suggestions["parameters"]} == {"q"} and "429" in suggestions["responses"]
    coverage = document["paths"]["/api/v1/territories/{level}/{code}/coverage"]["get"]
    assert "`coverage_not_computed`" in coverage["responses"]["503"]["description"]
    bbox = document["paths"]["/api/v1/map/venues"]["get"]["parameters"][0]
    assert (bbox["name"], bbox["required"]) == ("bbox", True)
