"""Reminder dispatch benchmark: the real server process sending to an SMTP server on 127.0.0.1.

    python bench/reminders.py                  # full sizes, SQLite then PostgreSQL, a table (~3 min)
    python bench/reminders.py --db postgres    # full sizes, PostgreSQL only
    python bench/reminders.py --quick --json   # smaller sizes, SQLite only, one JSON object (< 1 min)

The server is `python -m server_stub run` (bench/sync.py's `server_process`) with its own dispatcher
thread, configured only by the environment as an operator would (`CLINIC_SMTP_HOST`, `_PORT`,
`_SECURITY=none`, `_FROM`; every other dispatch setting at its default: batches of 50, a round
every 2 s while idle, one SMTP connection per batch). The SMTP server is aiosmtpd in a child
process, accepting and counting every message. Reminders are written straight into the server's
database (set-up, not measured): a patient, a confirmed appointment tomorrow and an e-mail
confirmation each, as a device's push would leave them.

- **throughput** (`reminders_per_s`): `burst` confirmations due at once. Messages per second =
  burst / (the last attempt's end - the first attempt's start), from the server's own
  `reminder_attempt` rows; the SMTP server's count must match.
- **lag** (`dispatch_lag_p95_s`): `trickle` confirmations falling due one after another, evenly
  over `trickle_s` seconds, while the server runs. A message's lag is its attempt's start (the
  dispatcher marks it `sending` just before handing it to SMTP) minus its due time: what the
  idle interval, the batch ahead of it and the claim cost it. p50, p95 and max.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from common import ProgressLog, StolenTime, machine, percentile  # bench/common.py
from sqlalchemy import func, select
from sync import DEFAULT_POSTGRES, create_clinic, free_port, server_database, server_process  # bench/sync.py

from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import human_code, new_id
from desktop.store.models import Appointment, Patient, Reminder
from desktop.store.types import utcnow
from server_stub.models import ReminderAttempt
from server_stub.rows import RowWriter

TARGETS = {"reminders_per_s": (">=", 100.0), "dispatch_lag_p95_s": ("<=", 5.0)}
FROM = "reminders@clinic.example"


@dataclass(frozen=True)
class Sizes:
    burst: int
    trickle: int
    trickle_s: float


FULL = Sizes(burst=5_000, trickle=600, trickle_s=60)
QUICK = Sizes(burst=500, trickle=120, trickle_s=12)


# -- the SMTP server -----------------------------------------------------------------------------


def smtp_child(port: int, accepted: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with accepted.get_lock():
                accepted.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


# -- set-up --------------------------------------------------------------------------------------


def write_reminders(engine: Any, clinic_id: str, doctor_id: str, dues: list[datetime]) -> list[str]:
    """A patient, a confirmed appointment tomorrow and a due e-mail confirmation per due time."""
    clock = HybridLogicalClock("bench")
    now = utcnow()
    ids = []
    used: set[str] = set()
    with engine.begin() as conn:
        writer = RowWriter(conn, clinic_id=clinic_id, clock=clock, now=now, deferred=True, batched=True)
        for n, due in enumerate(dues):
            patient_id, appointment_id, reminder_id = new_id(), new_id(), new_id()
            start = (now + timedelta(days=1)).replace(second=0, microsecond=0) + timedelta(minutes=n % 600)
            patient = {
                "id": patient_id, "clinic_id": clinic_id, "code": unique_code("PAT", used),
                "full_name": f"Bench Patient {n}", "name_key": f"bench patient {n}",
                "birth_date": date(1950, 1, 1) + timedelta(days=n), "sex": "unknown",
                "phone": None, "email": f"patient{n}@example.org", "address": "", "allergies": "",
                "preferred_language": "en" if n % 2 else "es", "merged_into": None,
                "notify_consent": True, "notify_channels": None, "notify_offsets": None,
            }  # fmt: skip
            appointment = {
                "id": appointment_id, "clinic_id": clinic_id, "code": unique_code("APT", used),
                "clinician_id": doctor_id, "patient_id": patient_id, "starts_at": start,
                "ends_at": start + timedelta(minutes=15), "seat": None, "kind": "walk_in",
                "urgency": "routine", "emergency": False, "status": "confirmed", "reason": "",
                "status_note": "", "rescheduled_from": None, "series_id": None, "booked_by": None,
            }  # fmt: skip
            reminder = {
                "id": reminder_id, "clinic_id": clinic_id, "appointment_id": appointment_id,
                "patient_id": patient_id, "channel": "email", "due_at": due, "status": "pending",
                "sent_at": None, "kind": "confirmation", "offset_minutes": None,
                "queue_token_id": None, "attempts": 0, "last_error": "", "next_attempt_at": None,
            }  # fmt: skip
            for model, row in ((Patient, patient), (Appointment, appointment), (Reminder, reminder)):
                writer.insert(model, row, device_id=None, hlc=clock.now())
            ids.append(reminder_id)
        writer.flush()
    return ids


def unique_code(prefix: str, used: set[str]) -> str:
    """A human code not drawn before in this set-up (thousands of random draws do meet)."""
    while (code := human_code(prefix)) in used:
        pass
    used.add(code)
    return code


def wait_sent(engine: Any, ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            left = conn.scalar(select(func.count()).where(Reminder.id.in_(ids), Reminder.status != "sent"))
        if not left:
            return
        time.sleep(0.2)
    raise SystemExit(f"{left} reminders still unsent after {timeout_s:.0f} s")


def attempts(engine: Any, ids: list[str]) -> list[tuple[datetime, datetime, datetime]]:
    """(due, attempt start, attempt end) of each reminder's sent attempt."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Reminder.due_at, ReminderAttempt.started_at, ReminderAttempt.finished_at)
            .join(ReminderAttempt, ReminderAttempt.reminder_id == Reminder.id)
            .where(Reminder.id.in_(ids), ReminderAttempt.outcome == "sent")
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# -- one run -------------------------------------------------------------------------------------


def run_one(db: str, sizes: Sizes, postgres_url: str, progress: ProgressLog) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    accepted, ready, stop = ctx.Value("i", 0), ctx.Event(), ctx.Event()
    with tempfile.TemporaryDirectory(prefix="clinic-bench-reminders-") as tmp_dir:
        tmp = Path(tmp_dir)
        smtp_port = free_port()
        smtp = ctx.Process(target=smtp_child, args=(smtp_port, accepted, ready, stop), daemon=True)
        smtp.start()
        if not ready.wait(30):
            raise SystemExit("the SMTP server did not start")
        os.environ.update(
            CLINIC_SMTP_HOST="127.0.0.1",
            CLINIC_SMTP_PORT=str(smtp_port),
            CLINIC_SMTP_SECURITY="none",
            CLINIC_SMTP_FROM=FROM,
        )
        try:
            with server_database(db, tmp, postgres_url) as url, server_process(url, tmp) as server:
                spec = create_clinic(server, "Bench Clinic", 1)
                progress(f"{db}: writing {sizes.burst} due reminders")
                steal = StolenTime()
                burst = write_reminders(
                    server.engine, spec.clinic_id, spec.doctor_ids[0], [utcnow()] * sizes.burst
                )
                wait_sent(server.engine, burst, timeout_s=600)
                rows = attempts(server.engine, burst)
                span = (max(r[2] for r in rows) - min(r[1] for r in rows)).total_seconds()
                per_s = sizes.burst / span
                progress(
                    f"{db}: {sizes.burst} sent in {span:.2f} s ({per_s:.0f}/s); trickle of {sizes.trickle}"
                )
                burst_steal = steal.percent()

                steal = StolenTime()
                first = utcnow() + timedelta(seconds=2)
                step = sizes.trickle_s / sizes.trickle
                dues = [first + timedelta(seconds=step * n) for n in range(sizes.trickle)]
                trickle = write_reminders(server.engine, spec.clinic_id, spec.doctor_ids[0], dues)
                time.sleep(max(0.0, (dues[-1] - utcnow()).total_seconds()))
                wait_sent(server.engine, trickle, timeout_s=120)
                lags = [
                    (started - due).total_seconds() for due, started, _ in attempts(server.engine, trickle)
                ]
                received = accepted.value
        finally:
            stop.set()
            smtp.join(10)
    assert received == sizes.burst + sizes.trickle, (received, sizes)
    return {
        "reminders_per_s": round(per_s, 1),
        "dispatch_lag_p95_s": round(percentile(lags, 95), 3),
        "dispatch_lag_p50_s": round(percentile(lags, 50), 3),
        "dispatch_lag_max_s": round(max(lags), 3),
        "burst": sizes.burst,
        "burst_s": round(span, 3),
        "trickle": sizes.trickle,
        "trickle_s": sizes.trickle_s,
        "smtp_accepted": received,
        "steal_percent": {"burst": burst_steal, "trickle": steal.percent()},
    }


def met(result: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for key, (op, target) in TARGETS.items():
        value = result[key]
        out[key] = value >= target if op == ">=" else value <= target
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| database | reminders_per_s (≥ 100) | lag p50 s | lag p95 s (≤ 5) | lag max s | met |",
             "| --- | ---: | ---: | ---: | ---: | :---: |"]  # fmt: skip
    for db, r in results.items():
        ok = "all" if all(met(r).values()) else "NO"
        lines.append(
            f"| {db} | {r['reminders_per_s']} | {r['dispatch_lag_p50_s']} | {r['dispatch_lag_p95_s']} "
            f"| {r['dispatch_lag_max_s']} | {ok} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, SQLite only (< 1 minute)")
    parser.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default=None)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help=f"default {DEFAULT_POSTGRES}")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    dbs = {"sqlite": ["sqlite"], "postgres": ["postgres"], "both": ["sqlite", "postgres"]}[
        args.db or ("sqlite" if args.quick else "both")
    ]
    progress = ProgressLog(not args.json)
    results = {db: run_one(db, sizes, args.postgres_url, progress) for db in dbs}
    first = results[dbs[0]]
    out = {
        "reminders_per_s": first["reminders_per_s"],
        "dispatch_lag_p95_s": first["dispatch_lag_p95_s"],
        "met": met(first),
        "runs": results,
        "quick": args.quick,
        "machine": machine(),
        "load_avg": os.getloadavg(),
    }
    print(json.dumps(out) if args.json else table(results))
    return 0 if all(all(met(r).values()) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
