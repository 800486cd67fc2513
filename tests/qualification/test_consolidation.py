"""The consolidation ratio: cheques in circulation and recent redemptions per qualified venue, per
territory, and the warning when one more venue would thin them under the setting."""

from __future__ import annotations

import pytest

from qualification.consolidation import ConsolidationModel, density_table_with_volumes
from qualification.density import DensityModel
from redemption import redemptions
from tests.builders import ACTOR, hand_out, make_order, pass_world

BORDEAUX_METROPOLE = ("epci", "243300316")


def test_volumes_per_venue_and_the_warning(session):
    world = pass_world(session)  # two qualified venues in Bordeaux Métropole (Bordeaux, Mérignac)
    order = make_order(session, world.sponsor, booklets=4, territories=["epci:243300316"])
    for booklet in order.booklets[:3]:
        hand_out(session, world.distributor, booklet)
    redemptions.redeem(session, ACTOR, world.venue, [order.booklets[0].cheques[0].code], "premiers-pas")
    model = DensityModel(session)
    volumes = ConsolidationModel(session, model, min_cheques_per_venue=12)
    figures = volumes.of(BORDEAUX_METROPOLE)
    # 3 booklets handed out (30 cheques), one used; the fourth booklet is not distributed.
    assert round(figures.circulating, 6) == 29 and figures.recent_redemptions == 1 and figures.qualified == 2
    assert figures.circulating_per_venue() == pytest.approx(14.5)
    assert figures.sentence() == "14,5 chèques en circulation et 0,5 encaissement en trois mois par lieu qualifié."
    assert volumes.warning(BORDEAUX_METROPOLE) == (
        "Avec un lieu qualifié de plus, chaque lieu de « Bordeaux Métropole » n'aurait plus que 9,7 chèques en "
        "circulation (seuil de consolidation : 12).")
    assert ConsolidationModel(session, model, min_cheques_per_venue=9).warning(BORDEAUX_METROPOLE) is None
    # A territory with no pass in circulation is shown, never flagged.
    assert volumes.warning(("epci", "200023737")) is None
    row = next(r for r in density_table_with_volumes(session) if (r.level, r.code) == BORDEAUX_METROPOLE)
    assert (row.circulating_per_venue, row.redemptions_per_venue) == (pytest.approx(14.5), 0.5)
