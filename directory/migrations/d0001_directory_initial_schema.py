"""directory: initial schema

Revision ID: d0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from directory.db import is_postgresql

revision: str = 'd0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('directory',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('email', name=op.f('uq_app_user_email'))
    )
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('legal_form', sa.Enum('association', 'entreprise', 'collectivite', 'etablissement_public', 'cooperative', 'autre', name='legal_form', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('rna', sa.String(length=10), nullable=True),
    sa.Column('is_sponsor', sa.Boolean(), nullable=False),
    sa.Column('is_distributor', sa.Boolean(), nullable=False),
    sa.Column('is_venue_operator', sa.Boolean(), nullable=False),
    sa.Column('is_aptic', sa.Boolean(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('code_insee', sa.String(length=5), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('is_sponsor OR is_distributor OR is_venue_operator OR is_aptic', name=op.f('ck_organisation_has_role')),
    sa.CheckConstraint('siret IS NOT NULL OR rna IS NOT NULL', name=op.f('ck_organisation_has_legal_identifier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('rna', name=op.f('uq_organisation_rna')),
    sa.UniqueConstraint('siret', name=op.f('uq_organisation_siret'))
    )
    op.create_table('referential_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referential_version')),
    sa.UniqueConstraint('version', name=op.f('uq_referential_version_version'))
    )
    op.create_table('service_level',
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.CheckConstraint('number BETWEEN 1 AND 3', name=op.f('ck_service_level_level_number')),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_service_level'))
    )
    op.create_geospatial_table('territory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Enum('region', 'departement', 'epci', 'commune', name='territory_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('code', sa.String(length=9), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('search_name', sa.String(length=200), nullable=False),
    sa.Column('tncc', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=2), nullable=True),
    sa.Column('departement_code', sa.String(length=3), nullable=True),
    sa.Column('epci_code', sa.String(length=9), nullable=True),
    sa.Column('centre', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('vintage', sa.String(length=16), nullable=False),
    sa.CheckConstraint('population >= 0', name=op.f('ck_territory_population_not_negative')),
    sa.CheckConstraint('tncc BETWEEN 0 AND 8', name=op.f('ck_territory_tncc_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_territory')),
    sa.UniqueConstraint('level', 'code', name=op.f('uq_territory_level_code'))
    )
    with op.batch_alter_table('territory', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_territory_centre', ['centre'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_geospatial_index('idx_territory_geom', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_territory_departement_code', ['departement_code'], unique=False)
        batch_op.create_index('ix_territory_epci_code', ['epci_code'], unique=False)
        batch_op.create_index('ix_territory_region_code', ['region_code'], unique=False)
        batch_op.create_index('ix_territory_search_name', ['level', 'search_name'], unique=False)

    op.create_table('territory_alias',
    sa.Column('alias', sa.String(length=5), nullable=False),
    sa.Column('commune_code', sa.String(length=5), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('alias', name=op.f('pk_territory_alias'))
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('target_type', sa.String(length=50), nullable=False),
    sa.Column('target_id', sa.String(length=50), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['app_user.id'], name=op.f('fk_audit_event_actor_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_event_target', ['target_type', 'target_id'], unique=False)

    op.create_table('membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('aptic_staff', 'sponsor', 'distributor', 'venue_staff', name='membership_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_membership_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_membership_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership')),
    sa.UniqueConstraint('user_id', 'organisation_id', 'role', name=op.f('uq_membership_user_id_organisation_id_role'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('level_number', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('standard_services', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['level_number'], ['service_level.number'], name=op.f('fk_service_level_number_service_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service')),
    sa.UniqueConstraint('slug', name=op.f('uq_service_slug'))
    )
    op.create_table('territory_postcode',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('postcode', sa.String(length=5), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['territory.id'], name=op.f('fk_territory_postcode_commune_id_territory'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('commune_id', 'postcode', name=op.f('pk_territory_postcode'))
    )
    with op.batch_alter_table('territory_postcode', schema=None) as batch_op:
        batch_op.create_index('ix_territory_postcode_postcode', ['postcode'], unique=False)

    op.create_geospatial_table('venue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('nom', sa.String(length=300), nullable=False),
    sa.Column('adresse', sa.String(length=300), nullable=False),
    sa.Column('complement_adresse', sa.String(length=300), nullable=True),
    sa.Column('code_postal', sa.String(length=5), nullable=False),
    sa.Column('commune', sa.String(length=200), nullable=False),
    sa.Column('code_insee', sa.String(length=5), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('geocoding_score', sa.Float(), nullable=True),
    sa.Column('horaires', sa.Text(), nullable=True),
    sa.Column('telephone', sa.String(length=20), nullable=True),
    sa.Column('courriels', sa.JSON(), nullable=False),
    sa.Column('site_web', sa.JSON(), nullable=False),
    sa.Column('pivot', sa.String(length=14), nullable=True),
    sa.Column('typologie', sa.JSON(), nullable=False),
    sa.Column('presentation_resume', sa.Text(), nullable=True),
    sa.Column('presentation_detail', sa.Text(), nullable=True),
    sa.Column('structure_parente', sa.String(length=300), nullable=True),
    sa.Column('itinerance', sa.JSON(), nullable=False),
    sa.Column('standard_services', sa.JSON(), nullable=False),
    sa.Column('publics_specifiquement_adresses', sa.JSON(), nullable=False),
    sa.Column('prise_en_charge_specifique', sa.JSON(), nullable=False),
    sa.Column('frais_a_charge', sa.JSON(), nullable=False),
    sa.Column('dispositif_programmes_nationaux', sa.JSON(), nullable=False),
    sa.Column('formations_labels', sa.JSON(), nullable=False),
    sa.Column('autres_formations_labels', sa.JSON(), nullable=False),
    sa.Column('modalites_acces', sa.JSON(), nullable=False),
    sa.Column('modalites_accompagnement', sa.JSON(), nullable=False),
    sa.Column('fiche_acces_libre', sa.String(length=500), nullable=True),
    sa.Column('prise_rdv', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('date_maj', sa.Date(), nullable=True),
    sa.Column('accepts_pass', sa.Boolean(), nullable=False),
    sa.Column('aptic_label', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('candidate', 'qualified', 'suspended', 'dequalified', 'closed', name='venue_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(code_postal) = 5', name=op.f('ck_venue_code_postal_length')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_venue_organisation_id_organisation'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue'))
    )
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_venue_location', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index('ix_venue_code_insee', ['code_insee'], unique=False)
        batch_op.create_index(batch_op.f('ix_venue_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('ix_venue_status', ['status'], unique=False)

    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_api_key_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_api_key_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_key_prefix'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('venue_service',
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_venue_service_service_id_service'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_service_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('venue_id', 'service_id', name=op.f('pk_venue_service'))
    )
    with op.batch_alter_table('venue_service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_service_service_id'), ['service_id'], unique=False)

    op.create_table('venue_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_source_venue_id_venue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_source')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_venue_source_source_source_id'))
    )
    with op.batch_alter_table('venue_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_source_venue_id'), ['venue_id'], unique=False)


    _create_audit_append_only_triggers()


AUDIT_APPEND_ONLY_MESSAGE = "audit_event is append-only"


def _create_audit_append_only_triggers() -> None:
    if is_postgresql(op.get_bind()):
        op.execute(
            "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{AUDIT_APPEND_ONLY_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{event.lower()} BEFORE {event} ON audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{AUDIT_APPEND_ONLY_MESSAGE}'); END"
            )


def downgrade() -> None:
    if is_postgresql(op.get_bind()):
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    with op.batch_alter_table('venue_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_source_venue_id'))

    op.drop_table('venue_source')
    with op.batch_alter_table('venue_service', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_service_service_id'))

    op.drop_table('venue_service')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_organisation_id'))

    op.drop_table('api_key')
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_index('ix_venue_status')
        batch_op.drop_index(batch_op.f('ix_venue_organisation_id'))
        batch_op.drop_index('ix_venue_code_insee')
        batch_op.drop_geospatial_index('idx_venue_location', postgresql_using='gist', column_name='location')

    op.drop_geospatial_table('venue')
    with op.batch_alter_table('territory_postcode', schema=None) as batch_op:
        batch_op.drop_index('ix_territory_postcode_postcode')

    op.drop_table('territory_postcode')
    op.drop_table('service')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_organisation_id'))

    op.drop_table('membership')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_target')
        batch_op.drop_index('ix_audit_event_at')

    op.drop_table('audit_event')
    op.drop_table('territory_alias')
    with op.batch_alter_table('territory', schema=None) as batch_op:
        batch_op.drop_index('ix_territory_search_name')
        batch_op.drop_index('ix_territory_region_code')
        batch_op.drop_index('ix_territory_epci_code')
        batch_op.drop_index('ix_territory_departement_code')
        batch_op.drop_geospatial_index('idx_territory_geom', postgresql_using='gist', column_name='geom')
        batch_op.drop_geospatial_index('idx_territory_centre', postgresql_using='gist', column_name='centre')

    op.drop_geospatial_table('territory')
    op.drop_table('service_level')
    op.drop_table('referential_version')
    op.drop_table('organisation')
    op.drop_table('app_user')
