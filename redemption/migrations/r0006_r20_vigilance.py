"""redemption: refused scans, suspicious-redemption signals and the monthly control plan

Revision ID: r0006_r20
Revises: r0004_c15
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r0006_r20'
down_revision: str | Sequence[str] | None = 'r0004_c15'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNAL_KINDS = ('hourly_volume', 'unusual_volume', 'outside_hours', 'far_apart', 'refusal_burst',
                'distributor_concentration', 'quick_after_distribution')


def upgrade() -> None:
    op.create_table(
        'scan_refusal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('venue_id', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('code', sa.String(length=60), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_scan_refusal_venue_id_venue'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_refusal')),
    )
    op.create_index('ix_scan_refusal_actor_created', 'scan_refusal', ['actor', 'created_at'])
    op.create_table(
        'redemption_signal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.Enum(*SIGNAL_KINDS, name='signal_kind', native_enum=False, create_constraint=True,
                                  length=32), nullable=False),
        sa.Column('status', sa.Enum('open', 'justified', 'to_investigate', name='signal_status', native_enum=False,
                                    create_constraint=True, length=32), nullable=False),
        sa.Column('venue_id', sa.Integer(), nullable=True),
        sa.Column('booklet_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=200), nullable=True),
        sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rule', sa.String(length=500), nullable=False),
        sa.Column('explanation', sa.String(length=1000), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.Column('redemption_ids', sa.JSON(), nullable=False),
        sa.Column('comment', sa.String(length=2000), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['booklet_id'], ['booklet.id'], name=op.f('fk_redemption_signal_booklet_id_booklet'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_redemption_signal_venue_id_venue'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_signal')),
        sa.UniqueConstraint('fingerprint', name=op.f('uq_redemption_signal_fingerprint')),
    )
    op.create_index('ix_redemption_signal_status', 'redemption_signal', ['status'])
    op.create_index('ix_redemption_signal_venue_id', 'redemption_signal', ['venue_id'])
    op.create_table(
        'venue_control',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('venue_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('weight', sa.Integer(), nullable=False),
        sa.Column('signal_count', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('proposed', 'passed', 'failed', 'waived', name='control_status', native_enum=False,
                                    create_constraint=True, length=32), nullable=False),
        sa.Column('documents_checked', sa.Boolean(), nullable=False),
        sa.Column('visited', sa.Boolean(), nullable=False),
        sa.Column('comment', sa.String(length=2000), nullable=True),
        sa.Column('venue_suspended', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('weight >= 1', name=op.f('ck_venue_control_weight_positive')),
        sa.CheckConstraint("(status = 'proposed') = (outcome_at IS NULL)", name=op.f('ck_venue_control_outcome_recorded')),
        sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_control_venue_id_venue'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_control')),
        sa.UniqueConstraint('venue_id', 'month', name=op.f('uq_venue_control_venue_id_month')),
    )
    # The far-apart signal and the journeys read a booklet's redemptions.
    op.create_index('ix_redemption_booklet_id', 'redemption', ['booklet_id'])


def downgrade() -> None:
    op.drop_index('ix_redemption_booklet_id', table_name='redemption')
    op.drop_table('venue_control')
    op.drop_index('ix_redemption_signal_venue_id', table_name='redemption_signal')
    op.drop_index('ix_redemption_signal_status', table_name='redemption_signal')
    op.drop_table('redemption_signal')
    op.drop_index('ix_scan_refusal_actor_created', table_name='scan_refusal')
    op.drop_table('scan_refusal')
