"""Alembic migrations, run programmatically on start (and by `clinic init`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from desktop.store.private import private_file

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def upgrade(path: Path, revision: str = "head") -> None:
    private_file(path)  # before SQLite makes it with the umask's mode
    command.upgrade(alembic_config(sqlite_url(path)), revision)
