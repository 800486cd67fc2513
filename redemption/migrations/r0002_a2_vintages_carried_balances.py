"""redemption: vintages, order minimum exceptions, carried balances and final statements, closed months, dated settings

Revision ID: r0002_a2
Revises: r0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = 'r0002_a2'
down_revision: str | Sequence[str] | None = 'r0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ('order_fee_bp', 'commission_bp', 'monthly_fee_cents')
NEW_KINDS = OLD_KINDS + ('vat_rate_bp', 'order_minimum_cents', 'vintage_expiry_mmdd')
NEW_RULES = [
    {'kind': 'vat_rate_bp', 'value': 2000, 'valid_from': date(2020, 1, 1)},
    {'kind': 'order_minimum_cents', 'value': 2_000_000, 'valid_from': date(2020, 1, 1)},
    {'kind': 'vintage_expiry_mmdd', 'value': 131, 'valid_from': date(2020, 1, 1)},
]
STATEMENT_COLUMNS = [
    ('carried_in_cents', 'INTEGER NOT NULL DEFAULT 0', 'carried_in_not_negative', 'carried_in_cents >= 0'),
    ('carried_out_cents', 'INTEGER NOT NULL DEFAULT 0', 'carried_out_consistent',
     'carried_out_cents = CASE WHEN final OR net_cents - carried_in_cents >= 0 THEN 0 '
     'ELSE carried_in_cents - net_cents END'),
    ('vat_rate_bp', 'INTEGER NOT NULL DEFAULT 2000', 'vat_rate_range', 'vat_rate_bp BETWEEN 0 AND 10000'),
]


def _kinds_check(kinds: tuple[str, ...]) -> str:
    return 'kind IN (' + ', '.join(f"'{kind}'" for kind in kinds) + ')'


def _set_kinds(kinds: tuple[str, ...]) -> None:
    # fee_rule has no foreign key pointing at it, so SQLite may rebuild it in batch mode.
    with op.batch_alter_table('fee_rule', recreate='auto') as batch:
        batch.drop_constraint(op.f('ck_fee_rule_fee_rule_kind'), type_='check')
        batch.create_check_constraint(op.f('ck_fee_rule_fee_rule_kind'), _kinds_check(kinds))


def upgrade() -> None:
    _set_kinds(NEW_KINDS)
    op.bulk_insert(sa.table('fee_rule', sa.column('kind', sa.String), sa.column('value', sa.Integer),
                            sa.column('valid_from', sa.Date)), NEW_RULES)

    # Plain ALTER TABLE (pass_order and statement are referenced by foreign keys: SQLite cannot rebuild
    # them safely); SQLite takes a CHECK inline with its new column, PostgreSQL as a table constraint.
    sqlite = op.get_context().dialect.name == 'sqlite'
    op.add_column('pass_order', sa.Column('minimum_exception', sa.String(length=500), nullable=True))
    year = "CAST(strftime('%Y', expires_on) AS INTEGER)" if sqlite else "CAST(EXTRACT(YEAR FROM expires_on) AS INTEGER)"
    if sqlite:
        op.execute("ALTER TABLE pass_order ADD COLUMN vintage INTEGER NOT NULL DEFAULT 2000 "
                   "CONSTRAINT ck_pass_order_vintage_range CHECK (vintage BETWEEN 2000 AND 2999)")
        op.execute(f"UPDATE pass_order SET vintage = {year} - 1")
    else:
        op.add_column('pass_order', sa.Column('vintage', sa.Integer(), nullable=True))
        op.execute(f"UPDATE pass_order SET vintage = {year} - 1")
        op.alter_column('pass_order', 'vintage', nullable=False)
        op.create_check_constraint(op.f('ck_pass_order_vintage_range'), 'pass_order', 'vintage BETWEEN 2000 AND 2999')

    op.add_column('statement', sa.Column('final', sa.Boolean(), server_default=sa.false(), nullable=False))
    for name, ddl, check_name, check in STATEMENT_COLUMNS:
        if sqlite:
            op.execute(f"ALTER TABLE statement ADD COLUMN {name} {ddl} CONSTRAINT ck_statement_{check_name} CHECK ({check})")
        else:
            op.execute(f"ALTER TABLE statement ADD COLUMN {name} {ddl}")
            op.create_check_constraint(op.f(f'ck_statement_{check_name}'), 'statement', check)

    op.create_table('closed_month',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('statement_count', sa.Integer(), nullable=False),
    sa.CheckConstraint('statement_count >= 0', name=op.f('ck_closed_month_statement_count_not_negative')),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_closed_month'))
    )
    # Months already closed before this revision: those with statements.
    op.execute("INSERT INTO closed_month (month, closed_at, statement_count) "
               "SELECT month, MAX(closed_at), COUNT(*) FROM statement GROUP BY month")


def downgrade() -> None:
    op.drop_table('closed_month')
    for name, _, check_name, _ in reversed(STATEMENT_COLUMNS):
        if op.get_context().dialect.name != 'sqlite':
            op.drop_constraint(op.f(f'ck_statement_{check_name}'), 'statement', type_='check')
        op.drop_column('statement', name)
    op.drop_column('statement', 'final')
    if op.get_context().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_pass_order_vintage_range'), 'pass_order', type_='check')
    op.drop_column('pass_order', 'minimum_exception')
    op.drop_column('pass_order', 'vintage')
    op.execute("DELETE FROM fee_rule WHERE kind IN ('vat_rate_bp', 'order_minimum_cents', 'vintage_expiry_mmdd')")
    _set_kinds(OLD_KINDS)
