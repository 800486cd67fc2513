"""maps: territorial coverage per commune and the digital fragility index

Revision ID: m0201
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0201'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('coverage',)
depends_on: str | Sequence[str] | None = ('d0002',)


def upgrade() -> None:
    op.create_table('coverage_commune',
    sa.Column('commune_code', sa.String(length=5), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('departement_code', sa.String(length=3), nullable=True),
    sa.Column('region_code', sa.String(length=2), nullable=True),
    sa.Column('epci_code', sa.String(length=9), nullable=True),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('located', sa.Boolean(), nullable=False),
    sa.Column('distance_level1_m', sa.Float(), nullable=True),
    sa.Column('distance_level2_m', sa.Float(), nullable=True),
    sa.Column('distance_level3_m', sa.Float(), nullable=True),
    sa.Column('venues', sa.Integer(), nullable=False),
    sa.Column('venues_level1', sa.Integer(), nullable=False),
    sa.Column('venues_level2', sa.Integer(), nullable=False),
    sa.Column('venues_level3', sa.Integer(), nullable=False),
    sa.Column('accessibility', sa.Float(), nullable=True),
    sa.CheckConstraint('population >= 0', name=op.f('ck_coverage_commune_population_not_negative')),
    sa.PrimaryKeyConstraint('commune_code', name=op.f('pk_coverage_commune'))
    )
    op.create_index('ix_coverage_commune_departement_code', 'coverage_commune', ['departement_code'])
    op.create_index('ix_coverage_commune_region_code', 'coverage_commune', ['region_code'])
    op.create_index('ix_coverage_commune_epci_code', 'coverage_commune', ['epci_code'])
    op.create_table('coverage_refresh',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('communes', sa.Integer(), nullable=False),
    sa.Column('venues', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_refresh'))
    )
    op.create_table('fragility_index',
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=9), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('no_thd_coverage_rate', sa.Float(), nullable=True),
    sa.Column('no_4g_coverage_rate', sa.Float(), nullable=True),
    sa.Column('poverty_rate', sa.Float(), nullable=True),
    sa.Column('older_65_rate', sa.Float(), nullable=True),
    sa.Column('nscol15p_rate', sa.Float(), nullable=True),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("level IN ('commune', 'epci')", name=op.f('ck_fragility_index_level_known')),
    sa.PrimaryKeyConstraint('level', 'code', name=op.f('pk_fragility_index'))
    )


def downgrade() -> None:
    op.drop_table('fragility_index')
    op.drop_table('coverage_refresh')
    op.drop_index('ix_coverage_commune_epci_code', table_name='coverage_commune')
    op.drop_index('ix_coverage_commune_region_code', table_name='coverage_commune')
    op.drop_index('ix_coverage_commune_departement_code', table_name='coverage_commune')
    op.drop_table('coverage_commune')
