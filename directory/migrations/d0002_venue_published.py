"""directory: venues carry whether they are on the public cartography

Revision ID: d0002
Revises: d0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd0002'
down_revision: str | Sequence[str] | None = 'd0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, not batch mode: recreating the venue table would drop SpatiaLite's
# registration of its geometry column and spatial index.
def upgrade() -> None:
    op.add_column('venue', sa.Column('published', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_venue_published', 'venue', ['published'])


def downgrade() -> None:
    op.drop_index('ix_venue_published', table_name='venue')
    op.drop_column('venue', 'published')
