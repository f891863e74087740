"""Run by test_crash.py in its own process: book in a loop until killed.

Sets up a clinic, then registers a patient and books them in one unit of work, over and over,
printing each appointment id only once its transaction has committed.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from desktop.domain.roles import Role
from desktop.services import availability, booking, patients
from desktop.services import clinic as clinic_service
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def main(data_dir: Path) -> None:
    store = LocalStore(data_dir, now=lambda: NOW)
    with store.unit_of_work() as uow:
        clinic_service.create_clinic(
            uow, actor=SYSTEM, name="Crash Clinic", timezone="Europe/Berlin", region="DE"
        )
        doctor = clinic_service.add_clinician(
            uow, actor=SYSTEM, name="Dr. Crash", username="crash", role=Role.DOCTOR
        )
        uow.flush()
        for weekday in range(7):
            availability.set_hours(
                uow,
                actor=SYSTEM,
                clinician_id=doctor.id,
                weekday=weekday,
                start=time(0),
                end=time(23),
                slot_minutes=5,
            )
    with store.reading() as session:
        slots = availability.find_free_slots(
            session, first_day=date(2026, 3, 2), last_day=date(2026, 3, 30), now=NOW
        )[doctor.id]
    print("ready", flush=True)
    for n, slot in enumerate(slots):
        letters = "".join("abcdefghij"[int(d)] for d in str(n))
        with store.unit_of_work() as uow:
            patient = patients.register(
                uow,
                actor=SYSTEM,
                full_name=f"Crash {letters}",
                birth_date=date(1950, 1, 1) + timedelta(days=n),
            )
            uow.flush()
            appointment = booking.book(
                uow, actor=SYSTEM, patient_id=patient.id, clinician_id=doctor.id, starts_at=slot.start
            )
        print(appointment.id, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
