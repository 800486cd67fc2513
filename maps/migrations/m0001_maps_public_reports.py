"""maps: reports of errors on public venue pages

Revision ID: m0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('maps_public',)
depends_on: str | Sequence[str] | None = ('d0002',)


def upgrade() -> None:
    op.create_table('venue_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.Enum('adresse', 'horaires', 'contacts', 'services', 'ferme', 'autre', name='report_topic', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_report_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_report'))
    )
    op.create_index('ix_venue_report_open', 'venue_report', ['handled_at', 'created_at'])
    op.create_index(op.f('ix_venue_report_venue_id'), 'venue_report', ['venue_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_venue_report_venue_id'), table_name='venue_report')
    op.drop_index('ix_venue_report_open', table_name='venue_report')
    op.drop_table('venue_report')
