"""`server_stub.db.insert_rows`: on PostgreSQL `COPY_MIN_ROWS` rows or more go by COPY, fewer by
INSERTs; on SQLite by `Prepared`. Whichever way, the rows read back the same, defaults apply and a
refused row is SQLAlchemy's IntegrityError, after which the transaction goes on from its savepoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from desktop.domain.ids import new_id
from server_stub.db import COPY_MIN_ROWS, create_server_engine, insert_rows, migrate, pipelined
from server_stub.models import AppliedOp, ChangeLog
from tests.fixtures.server import server_database_url  # noqa: F401


@pytest.fixture(scope="module")
def engine(server_database_url: str) -> Iterator[Engine]:
    migrate(server_database_url)
    engine = create_server_engine(server_database_url)
    yield engine
    engine.dispose()


def answer(result: dict[str, Any] | None, **given: Any) -> dict[str, Any]:
    return {
        "op_id": new_id(),
        "clinic_id": "clinic-ins",
        "device_id": "device-ins",
        "result": result,
        **given,
    }


def read_answers(engine: Engine, op_ids: list[str]) -> list[dict[str, Any]]:
    table = AppliedOp.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.op_id.in_(op_ids))).mappings()
        found = {row["op_id"]: dict(row) for row in rows}
    return [found[op_id] for op_id in op_ids]


MANY = (2, COPY_MIN_ROWS)  # by INSERTs, then by COPY on PostgreSQL
RESULTS = [
    {"status": "applied", "version": 1, "note": "tab\there, new\nline, back\\slash, “quotes”"},
    None,  # a JSON null, not a NULL
    {"nested": {"list": [1, 2.5, None, True]}},
]


@pytest.mark.parametrize("count", MANY)
def test_rows_written_together_read_back_as_rows_written_one_by_one(engine: Engine, count: int) -> None:
    when = datetime(2026, 3, 29, 20, 45, 12, 345678, tzinfo=UTC)
    together = [answer(RESULTS[n % 3], applied_at=when + timedelta(seconds=n)) for n in range(count)]
    alone = [answer(RESULTS[n % 3], applied_at=when + timedelta(seconds=n)) for n in range(3)]
    with engine.begin() as conn:
        insert_rows(conn, AppliedOp.__table__, together)
        for row in alone:
            insert_rows(conn, AppliedOp.__table__, [row])
    op_ids = [r["op_id"] for r in together + alone]
    for written, read in zip(together + alone, read_answers(engine, op_ids), strict=True):
        assert read == written
        assert read["applied_at"].tzinfo is not None
    table = AppliedOp.__table__
    with engine.connect() as conn:  # a JSON null, as SQLAlchemy's own INSERT stores it
        nulls = conn.execute(select(table.c.op_id).where(table.c.op_id.in_(op_ids), table.c.result.is_(None)))
        assert nulls.all() == []


@pytest.mark.parametrize("count", MANY)
def test_a_python_side_default_applies_to_rows_written_together(engine: Engine, count: int) -> None:
    before = datetime.now(UTC)
    rows = [answer({"n": n}) for n in range(count)]  # no applied_at: the column's default, utcnow
    with engine.begin() as conn:
        insert_rows(conn, AppliedOp.__table__, rows)
    for read in read_answers(engine, [r["op_id"] for r in rows]):
        assert before <= read["applied_at"] <= datetime.now(UTC)


@pytest.mark.parametrize("count", MANY)
def test_change_log_seqs_follow_the_order_of_the_rows(engine: Engine, count: int) -> None:
    ids = [new_id() for _ in range(count)]
    with engine.begin() as conn:
        entries = [{"clinic_id": "clinic-ins", "entity": "patient", "entity_id": i} for i in ids]
        insert_rows(conn, ChangeLog.__table__, entries)
        table = ChangeLog.__table__
        query = select(table.c.entity_id, table.c.seq).where(table.c.entity_id.in_(ids))
        seqs = dict(conn.execute(query).all())
    assert [seqs[i] for i in ids] == sorted(seqs.values())


def test_many_rows_in_a_pipeline_are_written_by_inserts(engine: Engine) -> None:
    """A pipeline cannot hold a COPY: rows written in one go by INSERTs, however many."""
    rows = [answer({"n": n}) for n in range(COPY_MIN_ROWS)]
    with engine.begin() as conn, pipelined(conn):
        insert_rows(conn, AppliedOp.__table__, rows)
    assert [r["result"] for r in read_answers(engine, [r["op_id"] for r in rows])] == [
        r["result"] for r in rows
    ]


@pytest.mark.parametrize("count", MANY)
def test_a_refused_row_is_an_integrity_error_and_the_transaction_goes_on(engine: Engine, count: int) -> None:
    taken = answer({"first": True})
    with engine.begin() as conn:
        insert_rows(conn, AppliedOp.__table__, [taken])
    clash = [answer({"n": n}) for n in range(count)]
    clash[count // 2]["op_id"] = taken["op_id"]
    kept = answer({"after": True})
    with engine.begin() as conn:
        conn.exec_driver_sql("SAVEPOINT before_clash")
        with pytest.raises(IntegrityError):
            insert_rows(conn, AppliedOp.__table__, clash)
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT before_clash")
        insert_rows(conn, AppliedOp.__table__, [kept, answer({"n": -1})])
    assert read_answers(engine, [taken["op_id"]])[0]["result"] == {"first": True}
    assert read_answers(engine, [kept["op_id"]])[0]["result"] == {"after": True}
    others = [row["op_id"] for row in clash if row["op_id"] != taken["op_id"]]
    table = AppliedOp.__table__
    with engine.connect() as conn:
        assert conn.execute(select(table.c.op_id).where(table.c.op_id.in_(others))).all() == []
