"""The server's Alembic chain builds exactly the schema its models describe (on PostgreSQL too,
when DATABASE_URL names one)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from desktop.store.models import Base
from server_stub.db import migrate, normalise_url, sqlite_url
from server_stub.models import ServerBase
from tests.fixtures.server import scratch_postgres

DEVICE_ONLY = {"device_state", "sync_journal"}


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[str]:
    base = os.environ.get("DATABASE_URL")
    if base:
        with scratch_postgres(base) as url:
            yield url
    else:
        yield sqlite_url(tmp_path / "server.db")


def _server_tables(obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", name) not in DEVICE_ONLY


def test_the_server_migrations_build_what_the_models_describe(fresh_database: str) -> None:
    migrate(fresh_database)
    engine = create_engine(normalise_url(fresh_database))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _server_tables}
            )
            differences = compare_metadata(context, [Base.metadata, ServerBase.metadata])  # type: ignore[arg-type]
    finally:
        engine.dispose()
    assert differences == []
