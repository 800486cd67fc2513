"""maps: claims of the scheduled rebuilds, one per due time

Revision ID: m0102_f
Revises: m0101
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0102_f'
down_revision: str | Sequence[str] | None = 'm0101'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cartography_claim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cartography_claim')),
    sa.UniqueConstraint('due_at', name=op.f('uq_cartography_claim_due_at'))
    )


def downgrade() -> None:
    op.drop_table('cartography_claim')
