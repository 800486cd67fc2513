"""maps: history of the weekly rebuilds of the public cartography

Revision ID: m0101
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0101'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('cartography',)
depends_on: str | Sequence[str] | None = ('d0002',)


def upgrade() -> None:
    op.create_table('cartography_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('succeeded', 'failed', 'skipped', name='run_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('published', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('promoted', sa.Integer(), nullable=False),
    sa.Column('flagged', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cartography_run'))
    )
    op.create_index('ix_cartography_run_started_at', 'cartography_run', ['started_at'])


def downgrade() -> None:
    op.drop_index('ix_cartography_run_started_at', table_name='cartography_run')
    op.drop_table('cartography_run')
