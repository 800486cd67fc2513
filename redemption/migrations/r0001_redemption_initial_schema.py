"""redemption: initial schema

Revision ID: r0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

# The pricing rules in force at launch; a later change is a new row with its own validity dates.
INITIAL_RULES = [
    {'kind': 'order_fee_bp', 'value': 400, 'valid_from': date(2020, 1, 1), 'valid_until': None},
    {'kind': 'commission_bp', 'value': 400, 'valid_from': date(2020, 1, 1), 'valid_until': None},
    {'kind': 'monthly_fee_cents', 'value': 700, 'valid_from': date(2020, 1, 1), 'valid_until': None},
]

revision: str = 'r0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('redemption',)
depends_on: str | Sequence[str] | None = ('d0002',)


def upgrade() -> None:
    op.create_table('fee_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('order_fee_bp', 'commission_bp', 'monthly_fee_cents', name='fee_rule_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.CheckConstraint('valid_until IS NULL OR valid_until > valid_from', name=op.f('ck_fee_rule_period_order')),
    sa.CheckConstraint('value >= 0', name=op.f('ck_fee_rule_value_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fee_rule')),
    sa.UniqueConstraint('kind', 'valid_from', name=op.f('uq_fee_rule_kind_valid_from'))
    )
    op.bulk_insert(sa.table('fee_rule', sa.column('kind', sa.String), sa.column('value', sa.Integer),
                            sa.column('valid_from', sa.Date), sa.column('valid_until', sa.Date)), INITIAL_RULES)
    op.create_table('pass_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sponsor_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'confirmed', 'paid', 'issued', 'closed', name='order_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('booklet_count', sa.Integer(), nullable=False),
    sa.Column('cheques_per_booklet', sa.Integer(), nullable=False),
    sa.Column('cheque_value_cents', sa.Integer(), nullable=False),
    sa.Column('face_value_cents', sa.Integer(), nullable=False),
    sa.Column('fee_rate_bp', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('territories', sa.JSON(), nullable=False),
    sa.Column('allowed_levels', sa.JSON(), nullable=False),
    sa.Column('cofunder', sa.String(length=200), nullable=True),
    sa.Column('cofunding_percent', sa.Integer(), nullable=False),
    sa.Column('requires_distribution', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('booklet_count > 0', name=op.f('ck_pass_order_booklet_count_positive')),
    sa.CheckConstraint('cheque_value_cents > 0', name=op.f('ck_pass_order_cheque_value_positive')),
    sa.CheckConstraint('cheques_per_booklet BETWEEN 1 AND 50', name=op.f('ck_pass_order_cheques_per_booklet_range')),
    sa.CheckConstraint('cofunding_percent BETWEEN 0 AND 100', name=op.f('ck_pass_order_cofunding_percent_range')),
    sa.CheckConstraint('face_value_cents = booklet_count * cheques_per_booklet * cheque_value_cents', name=op.f('ck_pass_order_face_value_consistent')),
    sa.CheckConstraint('fee_cents >= 0', name=op.f('ck_pass_order_fee_not_negative')),
    sa.ForeignKeyConstraint(['sponsor_id'], ['organisation.id'], name=op.f('fk_pass_order_sponsor_id_organisation'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pass_order'))
    )
    op.create_index('ix_pass_order_sponsor_id', 'pass_order', ['sponsor_id'], unique=False)
    op.create_table('booklet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=True),
    sa.Column('beneficiary_ref', sa.String(length=64), nullable=True),
    sa.Column('distributed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(distributed_at IS NULL AND distributor_id IS NULL AND beneficiary_ref IS NULL) OR (distributed_at IS NOT NULL AND distributor_id IS NOT NULL AND beneficiary_ref IS NOT NULL)', name=op.f('ck_booklet_distribution_complete')),
    sa.ForeignKeyConstraint(['distributor_id'], ['organisation.id'], name=op.f('fk_booklet_distributor_id_organisation'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['pass_order.id'], name=op.f('fk_booklet_order_id_pass_order'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booklet')),
    sa.UniqueConstraint('number', name=op.f('uq_booklet_number')),
    sa.UniqueConstraint('order_id', 'distributor_id', 'beneficiary_ref', name=op.f('uq_booklet_order_id_distributor_id_beneficiary_ref')),
    sa.UniqueConstraint('order_id', 'sequence', name=op.f('uq_booklet_order_id_sequence'))
    )
    op.create_table('statement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('cheque_count', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('commission_rate_bp', sa.Integer(), nullable=False),
    sa.Column('commission_cents', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cheque_count >= 0', name=op.f('ck_statement_cheque_count_not_negative')),
    sa.CheckConstraint('gross_cents >= 0 AND commission_cents >= 0 AND fee_cents >= 0', name=op.f('ck_statement_amounts_not_negative')),
    sa.CheckConstraint('net_cents = gross_cents - commission_cents - fee_cents', name=op.f('ck_statement_net_consistent')),
    sa.CheckConstraint('sequence > 0', name=op.f('ck_statement_sequence_positive')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_statement_venue_id_venue'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement')),
    sa.UniqueConstraint('number', name=op.f('uq_statement_number')),
    sa.UniqueConstraint('sequence', name=op.f('uq_statement_sequence')),
    sa.UniqueConstraint('venue_id', 'month', name=op.f('uq_statement_venue_id_month'))
    )
    op.create_table('cheque',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('booklet_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('value_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('issued', 'redeemed', 'cancelled', name='cheque_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.CheckConstraint('value_cents > 0', name=op.f('ck_cheque_value_positive')),
    sa.ForeignKeyConstraint(['booklet_id'], ['booklet.id'], name=op.f('fk_cheque_booklet_id_booklet'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['pass_order.id'], name=op.f('fk_cheque_order_id_pass_order'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cheque')),
    sa.UniqueConstraint('booklet_id', 'position', name=op.f('uq_cheque_booklet_id_position')),
    sa.UniqueConstraint('code', name=op.f('uq_cheque_code'))
    )
    op.create_index('ix_cheque_order_id', 'cheque', ['order_id'], unique=False)
    op.create_table('redemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('booklet_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('cheque_count', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('redeemed', 'cancelled', 'reimbursed', name='redemption_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name=op.f('ck_redemption_cancelled_at_set')),
    sa.CheckConstraint("(status = 'reimbursed') = (statement_id IS NOT NULL)", name=op.f('ck_redemption_reimbursed_in_statement')),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_redemption_amount_positive')),
    sa.CheckConstraint('cheque_count BETWEEN 1 AND 2', name=op.f('ck_redemption_cheque_count_range')),
    sa.ForeignKeyConstraint(['booklet_id'], ['booklet.id'], name=op.f('fk_redemption_booklet_id_booklet'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['pass_order.id'], name=op.f('fk_redemption_order_id_pass_order'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_redemption_service_id_service'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['statement_id'], ['statement.id'], name=op.f('fk_redemption_statement_id_statement'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_redemption_venue_id_venue'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption'))
    )
    op.create_index('ix_redemption_created_at', 'redemption', ['created_at'], unique=False)
    op.create_index(op.f('ix_redemption_order_id'), 'redemption', ['order_id'], unique=False)
    op.create_index('ix_redemption_statement_id', 'redemption', ['statement_id'], unique=False)
    op.create_index('ix_redemption_venue_created', 'redemption', ['venue_id', 'created_at'], unique=False)
    op.create_table('redemption_cheque',
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('cheque_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['cheque_id'], ['cheque.id'], name=op.f('fk_redemption_cheque_cheque_id_cheque'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], name=op.f('fk_redemption_cheque_redemption_id_redemption'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('redemption_id', 'cheque_id', name=op.f('pk_redemption_cheque'))
    )
    op.create_index('uq_redemption_cheque_active_cheque', 'redemption_cheque', ['cheque_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))


def downgrade() -> None:
    op.drop_index('uq_redemption_cheque_active_cheque', table_name='redemption_cheque', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
    op.drop_table('redemption_cheque')
    op.drop_index('ix_redemption_venue_created', table_name='redemption')
    op.drop_index('ix_redemption_statement_id', table_name='redemption')
    op.drop_index(op.f('ix_redemption_order_id'), table_name='redemption')
    op.drop_index('ix_redemption_created_at', table_name='redemption')
    op.drop_table('redemption')
    op.drop_index('ix_cheque_order_id', table_name='cheque')
    op.drop_table('cheque')
    op.drop_table('statement')
    op.drop_table('booklet')
    op.drop_index('ix_pass_order_sponsor_id', table_name='pass_order')
    op.drop_table('pass_order')
    op.drop_table('fee_rule')
