"""Alembic migrations, run programmatically on start (and by `clinic init`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def upgrade(path: Path, revision: str = "head") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(sqlite_url(path)), revision)
