"""Two acceptances at once that together exceed a call's envelope: exactly one succeeds, on both backends."""

import threading
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.db import make_engine
from directory.errors import DomainError
from redemption import api, applications
from redemption.cofunding_models import ApplicationStatus, CofundingApplication, CofundingCall
from redemption.models import Order
from tests.builders import ACTOR, authority, cofunding_application, make_call

ROUNDS = 3


def test_concurrent_acceptances_never_overspend_the_envelope(committed_database_url):
    engine = make_engine(committed_database_url)
    expires = date.today() + timedelta(days=365)
    rounds = []
    with Session(engine) as session:
        for index in range(ROUNDS):
            # 150,000 € of envelope; each application asks 100,000 € (50 % of 200,000 €): only one fits.
            call = make_call(session, envelope_cents=15_000_000, name=f"Appel {index}")
            ids = []
            for letter in "AB":
                sponsor = authority(session, f"Département {letter}{index}")
                order = api.create_order(session, ACTOR, sponsor, booklets=200, cheque_value_cents=10_000,
                                         territories=["departement:33"], expires_on=expires,
                                         minimum_exception="commande de test")
                ids.append(cofunding_application(session, call, sponsor, orders=[order]).id)
            rounds.append((call.id, ids))
        session.commit()

    for call_id, ids in rounds:
        outcomes: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(len(ids))

        def decide(application_id: int) -> None:
            with Session(engine) as session:
                start.wait()
                try:
                    with session.begin():
                        applications.accept(session, ACTOR, session.get(CofundingApplication, application_id))
                    outcome = "accepted"
                except DomainError as refused:
                    outcome = refused.code
            with lock:
                outcomes.append(outcome)

        workers = [threading.Thread(target=decide, args=(application_id,)) for application_id in ids]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert sorted(outcomes) == ["accepted", "envelope_exceeded"], outcomes
        with Session(engine) as session:
            call = session.get(CofundingCall, call_id)
            assert call.committed_cents == 10_000_000 <= call.envelope_cents
            statuses = sorted(session.get(CofundingApplication, i).status.value for i in ids)
            assert statuses == [ApplicationStatus.ACCEPTED.value, ApplicationStatus.SUBMITTED.value]
            granted = session.scalar(select(func.sum(Order.funder_share_cents)).where(Order.application_id.in_(ids)))
            assert granted == call.committed_cents
    engine.dispose()
