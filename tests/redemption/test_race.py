"""Concurrent scans of the same cheques from many venues: each cheque is redeemed at most once and each
booklet pays exactly two cheques for the one service scanned (the rest is refused with 409)."""

import random
import threading
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aptic import create_app
from directory import api as directory_api
from directory.db import is_postgresql, make_engine
from redemption.models import Cheque, ChequeStatus, Redemption, RedemptionCheque
from tests.builders import ACTOR, make_order, make_venue

# PostGIS runs the full race; SQLite serialises writers anyway, so a smaller one proves the same there.
POSTGIS_SIZES, SPATIALITE_SIZES = (16, 500), (4, 100)


def test_concurrent_scans_redeem_each_cheque_once_and_two_per_booklet_and_service(committed_database_url):
    engine = make_engine(committed_database_url)
    threads_count, cheque_count = POSTGIS_SIZES if is_postgresql(engine) else SPATIALITE_SIZES
    with Session(engine) as session:
        sponsor = directory_api.create_organisation(session, ACTOR, name="Métropole", legal_form="collectivite",
                                                    siret="24330031600011", is_sponsor=True)
        operator = directory_api.create_organisation(session, ACTOR, name="Réseau EPN", legal_form="association",
                                                     rna="W332000555", is_venue_operator=True)
        tokens = []
        for index in range(threads_count):
            venue = make_venue(session, operator, f"EPN n° {index}", "33063", "33000", "Bordeaux", ["premiers-pas"])
            tokens.append(directory_api.create_api_key(session, ACTOR, operator, f"douchette {index}", venue)[1])
        order = make_order(session, sponsor, booklets=cheque_count // 10, requires_distribution=False)
        codes = [c.code for b in order.booklets for c in b.cheques]
        booklet_of = {c.code: b.id for b in order.booklets for c in b.cheques}
        session.commit()
    assert len(codes) == cheque_count

    app = create_app({"DATABASE_URL": committed_database_url, "TESTING": True, "SECRET_KEY": "test",
                      "SERVER_NAME": "aptic.test", "REDEMPTION_FAILURES_PER_CREDENTIAL": "1000000 per minute",
                      "REDEMPTION_FAILURES_PER_ADDRESS": "1000000 per minute"})
    statuses: Counter = Counter()
    won: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads_count)

    def scanner(token: str, seed: int) -> None:
        client = app.test_client()
        order_of_scans = codes[:]
        random.Random(seed).shuffle(order_of_scans)
        start.wait()
        for code in order_of_scans:
            response = client.post("/api/v1/redemptions", json={"codes": [code], "service": "premiers-pas"},
                                   headers={"Authorization": f"Bearer {token}"})
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 201:
                    won[code] += 1

    workers = [threading.Thread(target=scanner, args=(token, seed)) for seed, token in enumerate(tokens)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    booklet_count = cheque_count // 10
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] == 2 * booklet_count and statuses[409] == cheque_count * threads_count - 2 * booklet_count
    assert set(won.values()) == {1} and {booklet_of[code] for code in won} == set(booklet_of.values())
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Redemption)) == 2 * booklet_count
        per_cheque = connection.execute(
            select(RedemptionCheque.cheque_id, func.count()).where(RedemptionCheque.active).group_by(RedemptionCheque.cheque_id)
        ).all()
        assert len(per_cheque) == 2 * booklet_count and {n for _, n in per_cheque} == {1}
        per_booklet = connection.execute(
            select(RedemptionCheque.booklet_id, func.count()).where(RedemptionCheque.active)
            .group_by(RedemptionCheque.booklet_id)
        ).all()
        assert len(per_booklet) == booklet_count and {n for _, n in per_booklet} == {2}
        assert connection.scalar(select(func.count()).select_from(Cheque).where(Cheque.status == ChequeStatus.REDEEMED)) \
            == 2 * booklet_count
    app.extensions["aptic.db"].engine.dispose()
    engine.dispose()
