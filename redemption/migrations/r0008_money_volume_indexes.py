"""redemption: the idempotency-key index holds only the deliveries sent with a key

A month's close moves every delivery of the month onto its statement in one UPDATE, which writes a
new entry in each of the redemption indexes: the unique (venue, key) index no longer gets one for
the deliveries without a key (NULL keys never conflicted, the rule it enforces is unchanged).

Revision ID: r0008_money
Revises: r0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r0008_money'
down_revision: str | Sequence[str] | None = 'r0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED = sa.text('idempotency_key IS NOT NULL')


def upgrade() -> None:
    with op.batch_alter_table('redemption') as batch:
        batch.drop_index('ux_redemption_venue_idempotency_key')
        batch.create_index('ux_redemption_venue_idempotency_key', ['venue_id', 'idempotency_key'], unique=True,
                           sqlite_where=KEYED, postgresql_where=KEYED)


def downgrade() -> None:
    with op.batch_alter_table('redemption') as batch:
        batch.drop_index('ux_redemption_venue_idempotency_key')
        batch.create_index('ux_redemption_venue_idempotency_key', ['venue_id', 'idempotency_key'], unique=True)
