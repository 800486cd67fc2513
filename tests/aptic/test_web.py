"""The shell's web plumbing: OpenAPI assembly and answers when the database is saturated."""

from aptic import create_app


def test_openapi_lists_every_package_endpoint(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/v1/venues/nearby", "/api/v1/redemptions", "/api/v1/territories/{level}/{code}/coverage"):
        assert path in document["paths"], path
    assert "Error" in document["components"]["schemas"]


def test_a_saturated_connection_pool_answers_503_not_500(committed_database_url):
    app = create_app({"DATABASE_URL": committed_database_url, "TESTING": True, "SECRET_KEY": "test",
                      "SERVER_NAME": "aptic.test", "DATABASE_POOL_SIZE": 1, "DATABASE_POOL_TIMEOUT": 0.1})
    engine = app.extensions["aptic.db"].engine
    held = [engine.connect(), engine.connect()]
    try:
        response = app.test_client().get("/api/v1/territories/departement/69")
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_busy"
    assert response.headers["Retry-After"] == "5"
