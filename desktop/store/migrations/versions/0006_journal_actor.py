"""sync_journal.actor: who made each change (a clinician's id, `kiosk` or `system`)

The server checks every op against its actor's role (desktop/domain/roles.py). Ops journaled
before this column existed name `system`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_journal") as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=36), nullable=False, server_default="system"))


def downgrade() -> None:
    with op.batch_alter_table("sync_journal") as batch_op:
        batch_op.drop_column("actor")
