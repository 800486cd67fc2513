"""The scan is the hot path: once the scanner's key is cached in the process (after its first scan),
one redemption through the API costs 6 SQL statements (the locked read of the cheques with their
booklet and order, the venue's territory codes and service in one read, the claim, the two inserts,
the audit), never a write on the API key, and no read of the referential (cached per process)."""

from __future__ import annotations

from sqlalchemy import event

from tests.builders import bearer, distribute

MAX_STATEMENTS = 6
# The test joins the app to its transaction through savepoints; production runs none of these.
HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def test_one_redemption_costs_at_most_six_statements(client, session, world, connection):
    distribute(session, world, 0)
    session.flush()
    first = client.post("/api/v1/redemptions", json={"codes": [world.codes(0)[0]], "service": "premiers-pas"},
                        headers=bearer(world))
    assert first.status_code == 201
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(HARNESS):
            statements.append(" ".join(statement.split()))

    event.listen(connection.engine, "before_cursor_execute", record)
    try:
        response = client.post("/api/v1/redemptions", json={"codes": [world.codes(0)[2]], "service": "demarches-en-ligne"},
                               headers=bearer(world))
    finally:
        event.remove(connection.engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.get_json()
    print("\n".join(f"{i}. {s[:160]}" for i, s in enumerate(statements, 1)))
    assert len(statements) <= MAX_STATEMENTS, "\n".join(statements)
    assert not any(s.upper().startswith("UPDATE API_KEY") for s in statements)
    assert not any(" FROM service " in f"{s} " for s in statements)
