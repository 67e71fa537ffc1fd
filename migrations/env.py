"""Alembic environment: the URL comes from the caller or from VALUEGATE_DATABASE_URL."""

from alembic import context
from sqlalchemy import create_engine, pool

from config.settings import get_settings
from models.tables import metadata
from services.db import ensure_sqlite_folder, sync_url

config = context.config
database_url = config.get_main_option("valuegate.database_url") or get_settings().database_url
ensure_sqlite_folder(database_url)


def run_migrations() -> None:
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
