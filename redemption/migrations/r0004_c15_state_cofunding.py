"""redemption: State co-funding (calls for projects, applications, shares on orders)

The free-text co-funder and percentage of an order give way to a link to a co-funding application
and the shares it records (funder + sponsor = face value, a CHECK). An order that had a co-funder
written in keeps the whole face value as the sponsor's share: no application was ever accepted for it.

Revision ID: r0004_c15
Revises: r0003_p14
Create Date: 2026-12-04
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r0004_c15'
down_revision: str | Sequence[str] | None = 'r0003_p14'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALL_STATUS = sa.Enum('open', 'closed', name='cofunding_call_status', native_enum=False, create_constraint=True,
                      length=32)
APPLICATION_STATUS = sa.Enum('draft', 'submitted', 'accepted', 'refused', name='cofunding_application_status',
                             native_enum=False, create_constraint=True, length=32)
AUTHORITY_KIND = sa.Enum('region', 'departement', 'collectivite_unique', 'metropole', 'epci', 'syndicat_mixte', 'petr',
                         'commune', 'autre', name='authority_kind', native_enum=False, create_constraint=True, length=32)
ORDER_CHECKS = [
    ('shares_not_negative', 'funder_share_cents >= 0 AND sponsor_share_cents >= 0'),
    ('shares_add_up', 'funder_share_cents + sponsor_share_cents = face_value_cents'),
    ('funder_share_range', 'funder_share_bp BETWEEN 0 AND 10000'),
    ('funder_share_needs_application', 'application_id IS NOT NULL OR funder_share_cents = 0'),
]
OLD_CHECK = 'CONSTRAINT ck_pass_order_cofunding_percent_range CHECK (cofunding_percent BETWEEN 0 AND 100)'


def _sqlite_rewrite_table(table: str, edit: Callable[[str], str]) -> None:
    """SQLite's documented way to change CHECKs without rebuilding a table that foreign keys point at: rewrite
    its stored CREATE TABLE (no on-disk content changes; the rows already satisfy what is added) and bump
    the schema version."""
    connection = op.get_bind()
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar_one()
    new_sql = edit(sql)
    if new_sql == sql:
        raise RuntimeError(f"{table}: its CREATE TABLE is not the one this revision expects")
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    connection.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (new_sql, table))
    connection.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    connection.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.create_table('cofunding_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('funder', sa.String(length=200), nullable=False),
    sa.Column('share_bp', sa.Integer(), nullable=False),
    sa.Column('envelope_cents', sa.BigInteger(), nullable=False),
    sa.Column('committed_cents', sa.BigInteger(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('eligible_kinds', sa.JSON(), nullable=False),
    sa.Column('required_sections', sa.JSON(), nullable=False),
    sa.Column('status', CALL_STATUS, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('share_bp BETWEEN 1 AND 10000', name=op.f('ck_cofunding_call_share_range')),
    sa.CheckConstraint('envelope_cents > 0', name=op.f('ck_cofunding_call_envelope_positive')),
    sa.CheckConstraint('committed_cents >= 0 AND committed_cents <= envelope_cents',
                       name=op.f('ck_cofunding_call_envelope_not_overspent')),
    sa.CheckConstraint('closes_on >= opens_on', name=op.f('ck_cofunding_call_period_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cofunding_call'))
    )
    op.create_table('cofunding_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('status', APPLICATION_STATUS, nullable=False),
    sa.Column('priority_publics', sa.Integer(), nullable=False),
    sa.Column('precarity_publics', sa.Integer(), nullable=False),
    sa.Column('how_to_reach', sa.Text(), nullable=False),
    sa.Column('area', sa.JSON(), nullable=False),
    sa.Column('structuring', sa.Text(), nullable=False),
    sa.Column('european_funds', sa.Text(), nullable=False),
    sa.Column('partners', sa.Text(), nullable=False),
    sa.Column('budget_cents', sa.BigInteger(), nullable=False),
    sa.Column('budget_notes', sa.Text(), nullable=False),
    sa.Column('granted_cents', sa.BigInteger(), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('priority_publics >= 0 AND precarity_publics >= 0',
                       name=op.f('ck_cofunding_application_publics_not_negative')),
    sa.CheckConstraint('budget_cents >= 0', name=op.f('ck_cofunding_application_budget_not_negative')),
    sa.CheckConstraint('granted_cents >= 0', name=op.f('ck_cofunding_application_granted_not_negative')),
    sa.CheckConstraint("status = 'accepted' OR granted_cents = 0",
                       name=op.f('ck_cofunding_application_granted_only_if_accepted')),
    sa.CheckConstraint("status <> 'refused' OR decision_reason IS NOT NULL",
                       name=op.f('ck_cofunding_application_refusal_has_reason')),
    sa.ForeignKeyConstraint(['call_id'], ['cofunding_call.id'], name=op.f('fk_cofunding_application_call_id_cofunding_call'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lead_id'], ['organisation.id'], name=op.f('fk_cofunding_application_lead_id_organisation'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cofunding_application'))
    )
    op.create_index('ix_cofunding_application_call_id', 'cofunding_application', ['call_id'])
    op.create_index('ix_cofunding_application_lead_id', 'cofunding_application', ['lead_id'])
    op.create_table('cofunding_member',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('kind', AUTHORITY_KIND, nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['cofunding_application.id'],
                            name=op.f('fk_cofunding_member_application_id_cofunding_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_cofunding_member_organisation_id_organisation'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('application_id', 'organisation_id', name=op.f('pk_cofunding_member'))
    )

    # pass_order is referenced by foreign keys: SQLite cannot rebuild it, so plain ALTER TABLE and CHECKs written
    # into its stored definition.
    sqlite = op.get_context().dialect.name == 'sqlite'
    if sqlite:
        _sqlite_rewrite_table('pass_order', lambda sql: re.sub(r",\s*" + re.escape(OLD_CHECK), "", sql))
        op.execute("ALTER TABLE pass_order ADD COLUMN application_id INTEGER")  # all NULL: its foreign key below holds
        op.execute("ALTER TABLE pass_order ADD COLUMN funder_share_bp INTEGER NOT NULL DEFAULT 0")
        op.execute("ALTER TABLE pass_order ADD COLUMN funder_share_cents INTEGER NOT NULL DEFAULT 0")
        op.execute("ALTER TABLE pass_order ADD COLUMN sponsor_share_cents INTEGER NOT NULL DEFAULT 0")
        op.execute("UPDATE pass_order SET sponsor_share_cents = face_value_cents")
        op.execute("ALTER TABLE pass_order DROP COLUMN cofunding_percent")
        op.execute("ALTER TABLE pass_order DROP COLUMN cofunder")
        checks = "".join(f", \n\tCONSTRAINT ck_pass_order_{name} CHECK ({check})" for name, check in ORDER_CHECKS)
        checks += (", \n\tCONSTRAINT fk_pass_order_application_id_cofunding_application FOREIGN KEY(application_id) "
                   "REFERENCES cofunding_application (id) ON DELETE RESTRICT")
        _sqlite_rewrite_table('pass_order', lambda sql: sql.rstrip()[:-1].rstrip() + checks + "\n)")
    else:
        op.drop_constraint(op.f('ck_pass_order_cofunding_percent_range'), 'pass_order', type_='check')
        op.drop_column('pass_order', 'cofunding_percent')
        op.drop_column('pass_order', 'cofunder')
        op.add_column('pass_order', sa.Column('application_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_pass_order_application_id_cofunding_application'), 'pass_order',
                              'cofunding_application', ['application_id'], ['id'], ondelete='RESTRICT')
        op.add_column('pass_order', sa.Column('funder_share_bp', sa.Integer(), server_default='0', nullable=False))
        op.add_column('pass_order', sa.Column('funder_share_cents', sa.Integer(), server_default='0', nullable=False))
        op.add_column('pass_order', sa.Column('sponsor_share_cents', sa.Integer(), nullable=True))
        op.execute("UPDATE pass_order SET sponsor_share_cents = face_value_cents")
        op.alter_column('pass_order', 'sponsor_share_cents', nullable=False)
        for name, check in ORDER_CHECKS:
            op.create_check_constraint(op.f(f'ck_pass_order_{name}'), 'pass_order', check)
    op.create_index('ix_pass_order_application_id', 'pass_order', ['application_id'])


def downgrade() -> None:
    op.drop_index('ix_pass_order_application_id', table_name='pass_order')
    if op.get_context().dialect.name == 'sqlite':
        raise NotImplementedError("SQLite: restore the database saved before r0004_c15 (its CHECKs cannot be dropped).")
    for name, _ in ORDER_CHECKS:
        op.drop_constraint(op.f(f'ck_pass_order_{name}'), 'pass_order', type_='check')
    op.drop_constraint(op.f('fk_pass_order_application_id_cofunding_application'), 'pass_order', type_='foreignkey')
    for column in ('sponsor_share_cents', 'funder_share_cents', 'funder_share_bp', 'application_id'):
        op.drop_column('pass_order', column)
    op.add_column('pass_order', sa.Column('cofunder', sa.String(length=200), nullable=True))
    op.add_column('pass_order', sa.Column('cofunding_percent', sa.Integer(), server_default='0', nullable=False))
    op.create_check_constraint(op.f('ck_pass_order_cofunding_percent_range'), 'pass_order',
                               'cofunding_percent BETWEEN 0 AND 100')
    op.drop_table('cofunding_member')
    op.drop_table('cofunding_application')
    op.drop_table('cofunding_call')
