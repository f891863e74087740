"""waitlist: patients waiting for a sooner slot

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import desktop.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waitlist_entry",
        sa.Column("clinic_id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("clinician_id", sa.String(length=36), nullable=False),
        sa.Column("earliest", sa.Date(), nullable=False),
        sa.Column("latest", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("offered_start", desktop.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("offer_expires_at", desktop.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("appointment_id", sa.String(length=36), nullable=True),
        sa.Column("joined_at", desktop.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("hlc", sa.String(length=64), server_default="", nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("updated_at", desktop.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_waitlist_entry_clinic_id_clinic")
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"],
            ["clinician.id"],
            name=op.f("fk_waitlist_entry_clinician_id_clinician"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_waitlist_entry_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entry")),
    )
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waitlist_entry_clinician_id"), ["clinician_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_entry_clinician_id"))

    op.drop_table("waitlist_entry")
