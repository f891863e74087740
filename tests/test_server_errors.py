"""How the server answers a database that is busy: 503 with Retry-After, which devices retry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import requests
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from server_stub import errors
from server_stub.background import serving_app


def test_a_locked_sqlite_database_is_a_503_to_retry_not_a_500(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    app = FastAPI()
    errors.install(app)

    @app.post("/write")
    def write() -> dict[str, str]:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        return {"status": "ok"}

    @app.get("/broken")
    def broken() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        return {"status": "ok"}

    with serving_app(app) as base_url:
        busy = requests.post(f"{base_url}/write", timeout=10)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert "busy" in busy.json()["detail"]
        # Any other database failure stays a plain 500 with no traceback in the answer.
        other = requests.get(f"{base_url}/broken", timeout=10)
        assert other.status_code == 500 and "Traceback" not in other.text
    holder.execute("ROLLBACK")
    holder.close()
    engine.dispose()
