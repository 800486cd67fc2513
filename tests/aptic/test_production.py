"""The production profile, from outside: gunicorn with two workers, PostGIS, the local Redis, two schedulers.

Requests are routed to a chosen worker by keeping the other one busy: gunicorn's sync workers take
a connection only when idle, and a request waiting on a table lock held by the test keeps its
worker busy for as long as the test wants.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory.db import make_engine
from directory.models import Role
from maps.models import CartographyRun, RebuildClaim, RunStatus
from redemption.models import Redemption
from tests.builders import ACTOR, PASSWORD, csrf_token_from, make_order, publish_venue
from tests.conftest import IN_CI, database_copy
from tests.production_site import (
    ProductionSite,
    production_environment,
    production_site,
    redis_server,
    redis_unavailable,
    scheduler_process,
)

pytestmark = pytest.mark.parametrize("database_url", ["postgis"], indirect=True, scope="session")

BORDEAUX = (-0.5801, 44.8412)
NEARBY = f"/api/v1/venues/nearby?lon={BORDEAUX[0]}&lat={BORDEAUX[1]}"
EMAIL = "accueil@mediatheque.fr"


@pytest.fixture(scope="module")
def scene(database_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A throwaway PostGIS copy with a published venue, its scanner key, an issued order and a user."""
    folder = tmp_path_factory.mktemp("production")
    engine.dispose()  # the copy needs its template idle
    with redis_server() as redis_url, database_copy(database_url, folder) as url:
        if reason := redis_unavailable(redis_url):
            if IN_CI:
                pytest.fail(f"{reason} : obligatoire en CI.", pytrace=False)
            pytest.skip(reason)
        copy_engine = make_engine(url)
        with Session(copy_engine) as session:
            sponsor = directory_api.create_organisation(session, ACTOR, name="Département de la Gironde",
                                                        legal_form="collectivite", siret="22330001300016", is_sponsor=True)
            operator = directory_api.create_organisation(session, ACTOR, name="Réseau des médiathèques",
                                                         legal_form="association", rna="W332000999", is_venue_operator=True)
            venue = publish_venue(session, *BORDEAUX, nom="Médiathèque de Bordeaux", code_postal="33000",
                                  commune="Bordeaux", organisation_id=operator.id)
            _, token = directory_api.create_api_key(session, ACTOR, operator, "douchette", venue)
            user = directory_api.create_user(session, ACTOR, email=EMAIL, full_name="Agent d'accueil", password=PASSWORD)
            directory_api.add_membership(session, ACTOR, user, operator, Role.VENUE_STAFF)
            order = make_order(session, sponsor, booklets=3, requires_distribution=False)
            # one cheque per booklet: a booklet pays two cheques at most for one service
            codes = [booklet.cheques[0].code for booklet in order.booklets]
            venue_id = venue.id
            session.commit()
        yield {"url": url, "redis_url": redis_url, "engine": copy_engine, "folder": folder, "venue_id": venue_id, "token": token, "codes": codes}
        copy_engine.dispose()


@pytest.fixture(scope="module")
def site(scene: dict) -> Iterator[ProductionSite]:
    environment = production_environment(scene["url"], scene["folder"], scene["redis_url"], APTIC_WEB_WORKERS="2")
    with production_site(environment, scene["folder"]) as running:
        yield running


class TableLock:
    """An exclusive lock on a table, held until `release()`: requests that touch it wait, keeping their worker busy."""

    def __init__(self, scene: dict, table: str) -> None:
        self.connection = scene["engine"].connect()
        self.connection.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.rollback()
            self.connection.close()


@contextmanager
def table_locked(scene: dict, table: str) -> Iterator[TableLock]:
    lock = TableLock(scene, table)
    try:
        yield lock
    finally:
        lock.release()


def lock_waiters(scene: dict) -> list[int]:
    """Client ports of the database sessions waiting on a lock (a request held in a worker)."""
    with scene["engine"].connect() as connection:
        return list(connection.scalars(text(
            "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")))


def wait_for_waiters(scene: dict, count: int) -> list[int]:
    deadline = time.monotonic() + 20
    while len(waiters := lock_waiters(scene)) < count:
        assert time.monotonic() < deadline, "the request never reached the database"
        time.sleep(0.05)
    return waiters


def in_background(call) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["response"] = call()
        except requests.RequestException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def redeem(site: ProductionSite, scene: dict, code: str) -> requests.Response:
    return requests.post(site.url("/api/v1/redemptions"), json={"codes": [code], "service": "premiers-pas"},
                         headers={"Authorization": f"Bearer {scene['token']}"}, timeout=30)


def failed_sign_in(site: ProductionSite, browser: requests.Session) -> int:
    token = csrf_token_from(browser.get(site.url("/connexion"), timeout=10).text)
    return browser.post(site.url("/connexion"), data={"email": EMAIL, "password": "mauvais", "csrf_token": token},
                        allow_redirects=False, timeout=10).status_code


def test_search_sign_in_and_redemption_over_http(site: ProductionSite, scene: dict) -> None:
    found = requests.get(site.url(NEARBY), timeout=10)
    assert found.status_code == 200
    assert [feature["properties"]["nom"] for feature in found.json()["features"]] == ["Médiathèque de Bordeaux"]
    assert "Médiathèque de Bordeaux" in requests.get(site.url(f"/?lon={BORDEAUX[0]}&lat={BORDEAUX[1]}"), timeout=10).text

    browser = requests.Session()
    token = csrf_token_from(browser.get(site.url("/connexion"), timeout=10).text)
    signed_in = browser.post(site.url("/connexion"), data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
                             allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302
    assert EMAIL in browser.get(site.url("/compte"), timeout=10).text

    first = redeem(site, scene, scene["codes"][0])
    assert first.status_code == 201, first.text
    again = redeem(site, scene, scene["codes"][0])
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])


def test_a_rate_limit_counted_in_one_worker_is_seen_by_the_other(site: ProductionSite, scene: dict) -> None:
    browser = requests.Session()
    with table_locked(scene, "venue") as venues, table_locked(scene, "api_key") as keys:
        search, _ = in_background(lambda: requests.get(site.url(NEARBY), timeout=30))
        (search_port,) = wait_for_waiters(scene, 1)
        first_worker = site.worker_with_client_port(search_port)
        # The first worker is busy: the next requests all go to the second one.
        assert [failed_sign_in(site, browser) for _ in range(5)] == [401] * 5
        scan, _ = in_background(lambda: redeem(site, scene, scene["codes"][1]))
        (scan_port,) = set(wait_for_waiters(scene, 2)) - {search_port}
        assert site.worker_with_client_port(scan_port) != first_worker
        venues.release()
        search.join(30)
        # Now the second worker is busy: these go to the first one, which has counted nothing itself.
        assert [failed_sign_in(site, browser) for _ in range(6)] == [401] * 5 + [429]
        keys.release()
        scan.join(30)


def test_a_worker_killed_mid_redemption_loses_nothing(site: ProductionSite, scene: dict) -> None:
    code = scene["codes"][2]
    with table_locked(scene, "audit_event"):
        scan, outcome = in_background(lambda: redeem(site, scene, code))
        (port,) = wait_for_waiters(scene, 1)
        os.kill(site.worker_with_client_port(port), signal.SIGKILL)
        scan.join(30)
    assert "error" in outcome  # the scanner saw the connection drop, no answer
    site.wait_for_workers(2)
    retried = redeem(site, scene, code)
    assert retried.status_code == 201, retried.text
    again = redeem(site, scene, code)
    assert (again.status_code, again.json()["id"]) == (200, retried.json()["id"])
    with Session(scene["engine"]) as session:
        assert session.scalar(select(func.count()).select_from(Redemption)
                              .where(Redemption.id == retried.json()["id"])) == 1


def test_a_saturated_pool_answers_503_with_retry_after(scene: dict) -> None:
    environment = production_environment(scene["url"], scene["folder"], scene["redis_url"],
                                         APTIC_WEB_WORKERS="1", APTIC_WEB_THREADS="4",
                                         APTIC_DATABASE_POOL_SIZE="1", APTIC_DATABASE_POOL_TIMEOUT="1")
    with production_site(environment, scene["folder"]) as saturated:
        with table_locked(scene, "venue"):
            calls = [in_background(lambda: requests.get(saturated.url(NEARBY), timeout=30)) for _ in range(4)]
            wait_for_waiters(scene, 2)  # the worker's two connections (pool + overflow) wait on the lock
            deadline = time.monotonic() + 20
            while len(refused := [outcome["response"] for _, outcome in calls if "response" in outcome]) < 2:
                assert time.monotonic() < deadline, "no answer while the pool was saturated"
                time.sleep(0.05)
            assert len(refused) == 2
            for response in refused:
                assert response.status_code == 503 and response.headers["Retry-After"] == "5"
                assert response.json()["error"]["code"] == "database_busy"
        for thread, _ in calls:
            thread.join(30)
        assert sorted(outcome["response"].status_code for _, outcome in calls) == [200, 200, 503, 503]


def test_two_schedulers_run_the_missed_monday_rebuild_once(scene: dict) -> None:
    environment = production_environment(scene["url"], scene["folder"], scene["redis_url"])
    logs = [scene["folder"] / f"scheduler-{index}.log" for index in (1, 2)]
    with scheduler_process(environment, logs[0]), scheduler_process(environment, logs[1]):
        deadline = time.monotonic() + 60
        while not all("job cartography-rebuild finished" in Path(log).read_text() for log in logs):
            assert time.monotonic() < deadline, "\n".join(Path(log).read_text()[-2000:] for log in logs)
            time.sleep(0.2)
    assert sum("already taken by another scheduler process" in Path(log).read_text() for log in logs) == 1
    with Session(scene["engine"]) as session:
        assert session.scalars(select(CartographyRun.status)).all() == [RunStatus.SUCCEEDED]
        assert session.scalar(select(func.count()).select_from(RebuildClaim)) == 1
