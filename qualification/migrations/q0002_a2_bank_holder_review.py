"""qualification: staff acceptance of a bank account holder that differs from the organisation's legal name

Revision ID: q0002_a2
Revises: q0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'q0002_a2'
down_revision: str | Sequence[str] | None = 'q0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('qualification_application', sa.Column('account_holder_accepted', sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column('qualification_application', 'account_holder_accepted')
