"""Alembic environment: one migration branch per domain package, applied together."""

from alembic import context
from geoalchemy2 import alembic_helpers

from aptic.schema import metadata
from directory.db import is_postgresql, make_engine

config = context.config


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata(),
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        render_as_batch=not is_postgresql(connection),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def include_object(obj, name, obj_type, reflected, compare_to) -> bool:
    """Leave SpatiaLite's and PostGIS's own tables out of autogenerate."""
    if obj_type == "table" and reflected and compare_to is None:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        run_migrations(connection)
    engine.dispose()
