"""reference_version: a counter SQLite triggers bump on every change of the reference data

The device caches what it computes from the clinic, its staff and their calendars
(desktop/store/reference.py) for as long as this counter stays put. Triggers, not the app,
move it: they see every writer of the file, pulled sync pages and other processes included.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BUMP = "BEGIN UPDATE reference_version SET n = n + 1 WHERE id = 1; END"
# (trigger name, event and table). device_state: only the columns current_clinic and the queue read.
TRIGGERS = [
    *(
        (f"reference_{table}_{event.lower()}", f"AFTER {event} ON {table}")
        for table in ("clinic", "clinician", "availability")
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    ("reference_device_state_insert", "AFTER INSERT ON device_state"),
    ("reference_device_state_update", "AFTER UPDATE OF clinic_id, letter ON device_state"),
]


def upgrade() -> None:
    op.execute("CREATE TABLE reference_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
    op.execute("INSERT INTO reference_version (id, n) VALUES (1, 0)")
    for name, when in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW {BUMP}")


def downgrade() -> None:
    for name, _when in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE reference_version")
