"""directory: a session version per user, so sign-out, password change and deactivation end sessions

Revision ID: d0003_d
Revises: d0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd0003_d'
down_revision: str | Sequence[str] | None = 'd0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('app_user', sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('app_user') as batch:
        batch.drop_column('session_version')
