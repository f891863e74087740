"""Alembic environment for the device database (and the server's shared tables)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from desktop.store.models import Base

config = context.config
target_metadata = Base.metadata
UNMODELLED_TABLES = frozenset({"reference_version"})  # made by a migration (0004), read with plain SQL


def include_name(name: str | None, type_: str, _parents: dict[str, str | None]) -> bool:
    """Autogenerate leaves alone the tables no model describes."""
    return not (type_ == "table" and name in UNMODELLED_TABLES)


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
