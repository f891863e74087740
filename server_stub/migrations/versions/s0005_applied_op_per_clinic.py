"""applied_op: keyed by (clinic_id, op_id), so op ids are answered per clinic, never across

Revision ID: s0005
Revises: s0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "s0005"
down_revision = "s0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applied_op", recreate="auto") as batch_op:
        batch_op.drop_constraint("pk_applied_op", type_="primary")
        batch_op.create_primary_key("pk_applied_op", ["clinic_id", "op_id"])


def downgrade() -> None:
    with op.batch_alter_table("applied_op", recreate="auto") as batch_op:
        batch_op.drop_constraint("pk_applied_op", type_="primary")
        batch_op.create_primary_key("pk_applied_op", ["op_id"])
