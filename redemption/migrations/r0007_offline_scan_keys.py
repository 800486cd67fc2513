"""redemption: idempotency key of a delivery queued offline (unique per venue)

Revision ID: r0007
Revises: r0006_r20
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r0007'
down_revision: str | Sequence[str] | None = 'r0006_r20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('redemption') as batch:
        batch.add_column(sa.Column('idempotency_key', sa.String(length=64), nullable=True))
        batch.create_index('ux_redemption_venue_idempotency_key', ['venue_id', 'idempotency_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('redemption') as batch:
        batch.drop_index('ux_redemption_venue_idempotency_key')
        batch.drop_column('idempotency_key')
