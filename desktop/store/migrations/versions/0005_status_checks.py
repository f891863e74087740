"""waitlist_entry and consultation: the status is one of the domain's values (a CHECK)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The values as of this revision (desktop.domain.waitlist, desktop.domain.consultations).
CHECKS = {"waitlist_entry": ("waiting", "offered", "booked", "cancelled"), "consultation": ("open", "closed")}


def upgrade() -> None:
    for table, values in CHECKS.items():
        allowed = ", ".join(f"'{v}'" for v in values)
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_status"), f"status IN ({allowed})")


def downgrade() -> None:
    for table in CHECKS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_status"), type_="check")
