"""qualification: applications, documents, decisions, quota policy and overrides, pending changes

Revision ID: q0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'q0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('qualification',)
depends_on: str | Sequence[str] | None = ('d0002',)

VENUE_STATUS = ('candidate', 'qualified', 'suspended', 'dequalified', 'closed')
VENUE_OUTCOME = ('pending', 'qualified', 'waitlisted', 'rejected')


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table('qualification_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('status', _enum(('draft', 'submitted', 'complete', 'qualified', 'waitlisted', 'rejected'), 'application_status'), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=True),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.Column('account_holder', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_qualification_application_organisation_id_organisation'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_application'))
    )
    op.create_index('ix_qualification_application_status', 'qualification_application', ['status'])
    op.create_index(op.f('ix_qualification_application_organisation_id'), 'qualification_application', ['organisation_id'])

    op.create_table('qualification_application_venue',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('outcome', _enum(VENUE_OUTCOME, 'venue_outcome'), nullable=False),
    sa.Column('waitlisted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('population_gain', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['qualification_application.id'], name=op.f('fk_qualification_application_venue_application_id_qualification_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_qualification_application_venue_venue_id_venue'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('application_id', 'venue_id', name=op.f('pk_qualification_application_venue')),
    sa.UniqueConstraint('venue_id', name=op.f('uq_qualification_application_venue_venue_id'))
    )

    op.create_table('qualification_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('stored_name', sa.String(length=100), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('size > 0', name=op.f('ck_qualification_document_size_positive')),
    sa.ForeignKeyConstraint(['application_id'], ['qualification_application.id'], name=op.f('fk_qualification_document_application_id_qualification_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_document')),
    sa.UniqueConstraint('application_id', 'kind', name=op.f('uq_qualification_document_application_id_kind')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_qualification_document_stored_name'))
    )

    op.create_table('qualification_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('outcome', _enum(VENUE_OUTCOME, 'venue_outcome'), nullable=False),
    sa.Column('rule', sa.String(length=50), nullable=False),
    sa.Column('territory_level', sa.String(length=16), nullable=False),
    sa.Column('territory_code', sa.String(length=9), nullable=False),
    sa.Column('territory_name', sa.String(length=200), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('qualified_before', sa.Integer(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('accessibility_before', sa.Float(), nullable=False),
    sa.Column('accessibility_after', sa.Float(), nullable=False),
    sa.Column('population_gain', sa.Integer(), nullable=False),
    sa.Column('sentence', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['qualification_application.id'], name=op.f('fk_qualification_decision_application_id_qualification_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_qualification_decision_venue_id_venue'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_decision'))
    )
    op.create_index('ix_qualification_decision_venue', 'qualification_decision', ['venue_id', 'decided_at'])
    op.create_index(op.f('ix_qualification_decision_application_id'), 'qualification_decision', ['application_id'])

    op.create_table('qualification_quota_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('ratio', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ratio > 0', name=op.f('ck_qualification_quota_policy_ratio_positive')),
    sa.CheckConstraint("level IN ('region', 'departement', 'epci', 'commune')", name=op.f('ck_qualification_quota_policy_level_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_quota_policy'))
    )

    op.create_table('qualification_quota_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=9), nullable=False),
    sa.Column('ratio', sa.Integer(), nullable=True),
    sa.Column('quota', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ratio IS NOT NULL OR quota IS NOT NULL', name=op.f('ck_qualification_quota_override_ratio_or_quota')),
    sa.CheckConstraint('ratio IS NULL OR ratio > 0', name=op.f('ck_qualification_quota_override_ratio_positive')),
    sa.CheckConstraint('quota IS NULL OR quota >= 1', name=op.f('ck_qualification_quota_override_quota_at_least_one')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_quota_override')),
    sa.UniqueConstraint('level', 'code', name=op.f('uq_qualification_quota_override_level_code'))
    )

    op.create_table('qualification_pending_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('target_status', _enum(VENUE_STATUS, 'venue_status'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_qualification_pending_change_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qualification_pending_change'))
    )
    op.create_index('uq_qualification_pending_change_open', 'qualification_pending_change', ['venue_id'], unique=True,
                    sqlite_where=sa.text('applied_at IS NULL'), postgresql_where=sa.text('applied_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_qualification_pending_change_open', table_name='qualification_pending_change')
    op.drop_table('qualification_pending_change')
    op.drop_table('qualification_quota_override')
    op.drop_table('qualification_quota_policy')
    op.drop_index(op.f('ix_qualification_decision_application_id'), table_name='qualification_decision')
    op.drop_index('ix_qualification_decision_venue', table_name='qualification_decision')
    op.drop_table('qualification_decision')
    op.drop_table('qualification_document')
    op.drop_table('qualification_application_venue')
    op.drop_index(op.f('ix_qualification_application_organisation_id'), table_name='qualification_application')
    op.drop_index('ix_qualification_application_status', table_name='qualification_application')
    op.drop_table('qualification_application')
