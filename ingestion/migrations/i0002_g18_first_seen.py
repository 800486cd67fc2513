"""ingestion: the day a venue was first seen, carried over from another platform's export

Revision ID: i0002_g18
Revises: i0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'i0002_g18'
down_revision: str | Sequence[str] | None = 'i0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('source_record', sa.Column('first_seen', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source_record') as batch:
        batch.drop_column('first_seen')
