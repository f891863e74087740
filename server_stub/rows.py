"""Writing a synced row on the server: version bump, merge base (`row_change`) and the changes feed.

Pushes, conflict resolutions and admin tools all write through `RowWriter`, so every change a
device must see gets exactly one new, strictly increasing seq in the clinic's change log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import new_id
from desktop.store.models import SyncConflict, Synced
from server_stub.models import ChangeLog, ClinicLock, RowChange


def lock_clinic(conn: Connection, clinic_id: str) -> None:
    """Serialise the clinic's writers until commit (PostgreSQL; SQLite writers are already serial)."""
    if conn.dialect.name != "postgresql":
        return
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    conn.execute(pg_insert(ClinicLock).values(clinic_id=clinic_id).on_conflict_do_nothing())
    conn.execute(select(ClinicLock.clinic_id).where(ClinicLock.clinic_id == clinic_id).with_for_update())


class RowWriter:
    def __init__(self, conn: Connection, *, clinic_id: str, clock: HybridLogicalClock, now: datetime):
        self.conn = conn
        self.clinic_id = clinic_id
        self.clock = clock
        self.now = now
        # Taken before the first write and held to commit, whoever writes: pushes, conflict
        # resolutions and admin tools alike.
        lock_clinic(conn, clinic_id)

    def get(self, model: type[Synced], row_id: str) -> RowMapping | None:
        table = model.__table__  # type: ignore[attr-defined]
        return self.conn.execute(select(table).where(table.c.id == row_id)).mappings().first()

    def insert(self, model: type[Synced], row: dict[str, Any], *, device_id: str | None, hlc: str) -> int:
        values = {**row, "version": 1, "hlc": hlc, "updated_at": self.now}
        values.setdefault("deleted", False)
        self.conn.execute(insert(model.__table__).values(**values))  # type: ignore[attr-defined]
        self._record(model, row["id"], 1, device_id, hlc, row.keys())
        return 1

    def update(
        self,
        model: type[Synced],
        current: RowMapping,
        changes: dict[str, Any],
        *,
        device_id: str | None,
        hlc: str,
    ) -> int:
        table = model.__table__  # type: ignore[attr-defined]
        version = current["version"] + 1
        stamp = max(current["hlc"] or "", hlc)
        self.conn.execute(
            update(table)
            .where(table.c.id == current["id"])
            .values(**changes, version=version, hlc=stamp, updated_at=self.now)
        )
        self._record(model, current["id"], version, device_id, hlc, changes.keys())
        return version

    def fields_changed_since(self, row_id: str, base_version: int, *, not_by: str) -> dict[str, str]:
        """Fields other devices changed after `base_version`, each with its latest clock."""
        out: dict[str, str] = {}
        rows = self.conn.execute(
            select(RowChange.device_id, RowChange.hlc, RowChange.fields).where(
                RowChange.entity_id == row_id, RowChange.version > base_version
            )
        )
        for device_id, hlc, fields in rows:
            if device_id == not_by:
                continue
            for field in fields:
                out[field] = max(out.get(field, ""), hlc)
        return out

    def touch(self, model: type[Synced], row_id: str) -> None:
        """Re-announce a row unchanged, so a device that holds a wrong copy pulls the right one."""
        self._log(model.__entity__, row_id)

    def log_conflict(
        self,
        *,
        entity: str,
        entity_id: str,
        resolution: str,
        field: str | None = None,
        ours: Any = None,
        theirs: Any = None,
        other_id: str | None = None,
        detail: str = "",
        suggestion: dict[str, Any] | None = None,
    ) -> str:
        conflict_id = new_id()
        self.insert(
            SyncConflict,
            {
                "id": conflict_id,
                "clinic_id": self.clinic_id,
                "entity": entity,
                "entity_id": entity_id,
                "other_id": other_id,
                "field": field,
                "ours": ours,
                "theirs": theirs,
                "resolution": resolution,
                "detail": detail[:300],
                "suggestion": suggestion,
                "created_at": self.now,
                "note": "",
            },
            device_id=None,
            hlc=self.clock.now(),
        )
        return conflict_id

    def _record(
        self,
        model: type[Synced],
        row_id: str,
        version: int,
        device_id: str | None,
        hlc: str,
        fields: Iterable[str],
    ) -> None:
        self.conn.execute(
            insert(RowChange).values(
                entity_id=row_id, version=version, device_id=device_id, hlc=hlc, fields=sorted(fields)
            )
        )
        self._log(model.__entity__, row_id)

    def _log(self, entity: str, row_id: str) -> None:
        self.conn.execute(delete(ChangeLog).where(ChangeLog.entity == entity, ChangeLog.entity_id == row_id))
        self.conn.execute(insert(ChangeLog).values(clinic_id=self.clinic_id, entity=entity, entity_id=row_id))
