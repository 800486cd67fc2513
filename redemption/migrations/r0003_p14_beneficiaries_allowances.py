"""redemption: one booklet per person per vintage (keyed pseudonyms), distributors allowed per order

Revision ID: r0003_p14
Revises: r0002_a1
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r0003_p14'
down_revision: str | Sequence[str] | None = 'r0002_a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Distributors that already handed out booklets of an order keep the right to (the whole order):
# before this revision any distributor could hand out any booklet. Earlier distributions carry the
# distributor's own reference, not a pseudonym: they get no claim (the rule starts with this revision).
ALLOW_PAST_DISTRIBUTORS = """
INSERT INTO distribution_allowance (order_id, distributor_id, created_at)
SELECT order_id, distributor_id, MIN(distributed_at) FROM booklet
WHERE distributor_id IS NOT NULL GROUP BY order_id, distributor_id
"""


def upgrade() -> None:
    op.create_table('distribution_allowance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('first_sequence', sa.Integer(), nullable=True),
    sa.Column('last_sequence', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(first_sequence IS NULL) = (last_sequence IS NULL)',
                       name=op.f('ck_distribution_allowance_range_complete')),
    sa.CheckConstraint('first_sequence IS NULL OR (first_sequence >= 1 AND last_sequence >= first_sequence)',
                       name=op.f('ck_distribution_allowance_range_order')),
    sa.ForeignKeyConstraint(['distributor_id'], ['organisation.id'],
                            name=op.f('fk_distribution_allowance_distributor_id_organisation'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['pass_order.id'], name=op.f('fk_distribution_allowance_order_id_pass_order'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_allowance')),
    sa.UniqueConstraint('order_id', 'distributor_id', name=op.f('uq_distribution_allowance_order_id_distributor_id'))
    )
    op.create_index(op.f('ix_distribution_allowance_distributor_id'), 'distribution_allowance', ['distributor_id'],
                    unique=False)
    op.create_table('beneficiary_claim',
    sa.Column('booklet_id', sa.Integer(), nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booklet_id'], ['booklet.id'], name=op.f('fk_beneficiary_claim_booklet_id_booklet'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['distributor_id'], ['organisation.id'],
                            name=op.f('fk_beneficiary_claim_distributor_id_organisation'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('booklet_id', name=op.f('pk_beneficiary_claim')),
    sa.UniqueConstraint('vintage', 'pseudonym', name=op.f('uq_beneficiary_claim_vintage_pseudonym'))
    )
    op.execute(ALLOW_PAST_DISTRIBUTORS)


def downgrade() -> None:
    op.drop_table('beneficiary_claim')
    op.drop_index(op.f('ix_distribution_allowance_distributor_id'), table_name='distribution_allowance')
    op.drop_table('distribution_allowance')
