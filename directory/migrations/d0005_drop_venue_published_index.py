"""directory: venue reads planned for short index-driven queries — no index on venue.published (most venues
are published: the planner ANDed the whole index with the spatial one, 2.5 ms of a 4 ms nearby count at
100,000 venues) and, on PostgreSQL, no parallel workers on venue (starting one took longer than the
spatial queries it was meant to speed up: a 2 ms count took 10 to 100 ms)

Revision ID: d0005_venue_reads
Revises: d0004_knn
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from directory.db import is_postgresql

revision: str = 'd0005_venue_reads'
down_revision: str | Sequence[str] | None = 'd0004_knn'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_venue_published', table_name='venue')
    if is_postgresql(op.get_bind()):
        op.execute("ALTER TABLE venue SET (parallel_workers = 0)")


def downgrade() -> None:
    if is_postgresql(op.get_bind()):
        op.execute("ALTER TABLE venue RESET (parallel_workers)")
    op.create_index('ix_venue_published', 'venue', ['published'])
