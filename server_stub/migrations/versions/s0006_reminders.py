"""reminders: the device's columns (0007) and the dispatcher's tables

Revision ID: s0006
Revises: s0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from desktop.store.types import UTCDateTime

revision = "s0006"
down_revision = "s0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reminder_delivery",
        sa.Column("reminder_id", sa.String(36), nullable=False),
        sa.Column("clinic_id", sa.String(36), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(80), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sending", sa.Boolean(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("reminder_id", name=op.f("pk_reminder_delivery")),
    )
    op.create_index("ix_reminder_delivery_lease", "reminder_delivery", ["done", "lease_until"])
    op.create_table(
        "reminder_attempt",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("reminder_id", sa.String(36), nullable=False),
        sa.Column("clinic_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("dispatcher", sa.String(80), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("error", sa.String(300), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_attempt")),
    )
    op.create_index("ix_reminder_attempt_finished", "reminder_attempt", ["finished_at"])
    op.create_index(op.f("ix_reminder_attempt_reminder_id"), "reminder_attempt", ["reminder_id"])
    op.create_table(
        "dispatcher_beat",
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(300), nullable=False),
        sa.Column("sms", sa.String(300), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dispatcher_beat")),
    )
    with op.batch_alter_table("clinic") as batch_op:
        batch_op.add_column(
            sa.Column("reminder_channels", sa.JSON(), nullable=False, server_default='["sms"]')
        )
        batch_op.add_column(sa.Column("reminder_offsets", sa.JSON(), nullable=False, server_default="[1440]"))
        batch_op.add_column(
            sa.Column("queue_notify_position", sa.Integer(), nullable=False, server_default="3")
        )
    with op.batch_alter_table("patient") as batch_op:
        batch_op.add_column(
            sa.Column("notify_consent", sa.Boolean(), nullable=False, server_default=sa.text("true"))
        )
        batch_op.add_column(sa.Column("notify_channels", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("notify_offsets", sa.JSON(), nullable=True))
    with op.batch_alter_table("reminder") as batch_op:
        batch_op.alter_column("appointment_id", existing_type=sa.String(36), nullable=True)
        batch_op.add_column(sa.Column("kind", sa.String(14), nullable=False, server_default="reminder"))
        batch_op.add_column(sa.Column("offset_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("queue_token_id", sa.String(36), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_error", sa.String(300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    op.drop_table("dispatcher_beat")
    op.drop_table("reminder_attempt")
    op.drop_table("reminder_delivery")
    with op.batch_alter_table("reminder") as batch_op:
        for name in ("next_attempt_at", "last_error", "attempts", "queue_token_id", "offset_minutes", "kind"):
            batch_op.drop_column(name)
        batch_op.alter_column("appointment_id", existing_type=sa.String(36), nullable=False)
    with op.batch_alter_table("patient") as batch_op:
        for name in ("notify_offsets", "notify_channels", "notify_consent"):
            batch_op.drop_column(name)
    with op.batch_alter_table("clinic") as batch_op:
        for name in ("queue_notify_position", "reminder_offsets", "reminder_channels"):
            batch_op.drop_column(name)
