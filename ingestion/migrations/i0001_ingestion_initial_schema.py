"""ingestion: geocoder cache and per-source venue records

Revision ID: i0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'i0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('ingestion',)
depends_on: str | Sequence[str] | None = ('d0002',)


def upgrade() -> None:
    op.create_table('geocode_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('citycode_filter', sa.String(length=5), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('label', sa.String(length=300), nullable=True),
    sa.Column('citycode', sa.String(length=5), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_geocode_cache'))
    )
    op.create_table('source_record',
    sa.Column('venue_source_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('date_maj', sa.Date(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['venue_source_id'], ['venue_source.id'], name=op.f('fk_source_record_venue_source_id_venue_source'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('venue_source_id', name=op.f('pk_source_record'))
    )


def downgrade() -> None:
    op.drop_table('source_record')
    op.drop_table('geocode_cache')
