"""Run by test_server_reminders_concurrency.py in its own process: a dispatcher on the server's
database sending to the test SMTP server, until nothing is left to send (or it is killed).

    python -m tests.dispatch_child DATABASE_URL SMTP_PORT LEASE_S
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import func, select

from desktop.domain.reminders import OPEN_STATUSES
from desktop.store.models import Reminder
from server_stub.db import create_server_engine
from server_stub.notify.dispatcher import Dispatcher
from tests.fixtures.outbox import MailServer
from tests.reminder_support import notify_settings

DEADLINE_S = 120


def main(database_url: str, smtp_port: int, lease_s: float) -> None:
    engine = create_server_engine(database_url)
    settings = notify_settings(MailServer(port=smtp_port), dispatch_lease_s=lease_s, dispatch_batch=25)
    dispatcher = Dispatcher(engine, settings)
    print("ready", dispatcher.name, flush=True)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        result = dispatcher.run_once()
        print("round", result.claimed, result.sent, result.skipped, flush=True)
        with engine.connect() as conn:
            left = conn.scalar(select(func.count()).where(Reminder.status.in_(OPEN_STATUSES)))
        if not left:
            break
        if result.claimed == 0:
            time.sleep(0.1)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
