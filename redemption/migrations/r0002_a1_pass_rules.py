"""redemption: two cheques per service per booklet, counted over all its active deliveries

Revision ID: r0002_a1
Revises: r0002_a2
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r0002_a1'
down_revision: str | Sequence[str] | None = 'r0002_a2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ('d0003_a1',)

# Lines recorded before the rule keep their order: the first two active cheques of a booklet on a
# service take slots 1 and 2, any beyond (the rule was not enforced) keep no slot.
NUMBER_SLOTS = """
UPDATE redemption_cheque SET service_slot = (
    SELECT count(*) FROM redemption_cheque AS earlier
    WHERE earlier.active AND earlier.booklet_id = redemption_cheque.booklet_id
      AND earlier.service_id = redemption_cheque.service_id
      AND (earlier.redemption_id < redemption_cheque.redemption_id
           OR (earlier.redemption_id = redemption_cheque.redemption_id
               AND earlier.cheque_id <= redemption_cheque.cheque_id))
) WHERE active
"""


def upgrade() -> None:
    op.add_column('redemption_cheque', sa.Column('booklet_id', sa.Integer(), nullable=True))
    op.add_column('redemption_cheque', sa.Column('service_id', sa.Integer(), nullable=True))
    op.add_column('redemption_cheque', sa.Column('service_slot', sa.Integer(), nullable=True))
    op.execute("UPDATE redemption_cheque SET "
               "booklet_id = (SELECT booklet_id FROM redemption WHERE redemption.id = redemption_cheque.redemption_id), "
               "service_id = (SELECT service_id FROM redemption WHERE redemption.id = redemption_cheque.redemption_id)")
    op.execute(NUMBER_SLOTS)
    op.execute("UPDATE redemption_cheque SET service_slot = NULL WHERE service_slot > 2")
    with op.batch_alter_table('redemption_cheque') as batch:
        batch.alter_column('booklet_id', existing_type=sa.Integer(), nullable=False)
        batch.alter_column('service_id', existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(op.f('fk_redemption_cheque_booklet_id_booklet'), 'booklet', ['booklet_id'], ['id'],
                                 ondelete='RESTRICT')
        batch.create_foreign_key(op.f('fk_redemption_cheque_service_id_service'), 'service', ['service_id'], ['id'],
                                 ondelete='RESTRICT')
        batch.create_check_constraint(op.f('ck_redemption_cheque_service_slot_range'), 'service_slot BETWEEN 1 AND 2')
    op.create_index('uq_redemption_cheque_active_service_slot', 'redemption_cheque',
                    ['booklet_id', 'service_id', 'service_slot'], unique=True,
                    sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))


def downgrade() -> None:
    op.drop_index('uq_redemption_cheque_active_service_slot', table_name='redemption_cheque',
                  sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
    with op.batch_alter_table('redemption_cheque') as batch:
        batch.drop_constraint(op.f('ck_redemption_cheque_service_slot_range'), type_='check')
        batch.drop_constraint(op.f('fk_redemption_cheque_service_id_service'), type_='foreignkey')
        batch.drop_constraint(op.f('fk_redemption_cheque_booklet_id_booklet'), type_='foreignkey')
        batch.drop_column('service_slot')
        batch.drop_column('service_id')
        batch.drop_column('booklet_id')
