"""reminders: patients' consent, channels and lead times; clinic defaults; reminder kinds and outcomes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from desktop.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
