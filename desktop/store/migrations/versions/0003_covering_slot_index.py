"""appointment: the doctor-and-start index also covers the free-slot query

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointment") as batch_op:
        batch_op.drop_index("ix_appointment_doctor_start")
        batch_op.create_index(
            "ix_appointment_doctor_slots", ["clinician_id", "starts_at", "ends_at", "status", "deleted"]
        )


def downgrade() -> None:
    with op.batch_alter_table("appointment") as batch_op:
        batch_op.drop_index("ix_appointment_doctor_slots")
        batch_op.create_index("ix_appointment_doctor_start", ["clinician_id", "starts_at"])
