"""directory: organisations and venues may be distribution-only (they hand out booklets, never redeem)

Revision ID: d0003_a1
Revises: d0003_d
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd0003_a1'
down_revision: str | Sequence[str] | None = 'd0003_d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not batch mode: recreating the venue table would drop SpatiaLite's
# registration of its geometry column and spatial index.
def upgrade() -> None:
    op.add_column('organisation', sa.Column('distribution_only', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('venue', sa.Column('distribution_only', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column('venue', 'distribution_only')
    op.drop_column('organisation', 'distribution_only')
