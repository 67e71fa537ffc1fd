"""Migrations build the schema the models describe, on SQLite and PostgreSQL, and come back down."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from models.tables import metadata
from services import migrate
from services.db import sync_url
from tests.support import fresh_database


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_downgrade_removes_them(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        assert _tables(url) == set(metadata.tables)

        migrate.downgrade(url, "base")
        assert _tables(url) == set()

        migrate.upgrade(url)  # and up again: the downgrade left nothing behind
        assert _tables(url) == set(metadata.tables)


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = create_engine(sync_url(url))
        try:
            with engine.connect() as connection:
                differences = compare_metadata(
                    MigrationContext.configure(connection, opts={"compare_type": False}), metadata
                )
        finally:
            engine.dispose()
    assert differences == []
