"""appointment: the doctor-and-start index also covers the free-slot query

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "s0002"
down_revision = "s0001"
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
