"""directory: a GiST index on the venues' geography, so PostGIS hands out the nearest venues in order

Revision ID: d0004_knn
Revises: d0003_a1
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

from directory.db import is_postgresql

revision: str = 'd0004_knn'
down_revision: str | Sequence[str] | None = 'd0003_a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named like GeoAlchemy2's spatial indexes (idx_<table>_<column>), which the models do not declare.
INDEX = "idx_venue_location_geography"


def upgrade() -> None:
    # SpatiaLite searches its R*Tree by growing boxes (directory.db.nearest_rows): nothing to add there.
    if is_postgresql(op.get_bind()):
        op.execute(f"CREATE INDEX {INDEX} ON venue USING gist (geography(location))")


def downgrade() -> None:
    if is_postgresql(op.get_bind()):
        op.execute(f"DROP INDEX {INDEX}")
