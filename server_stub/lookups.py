"""What a push asks of the clinic's rows for every appointment and patient it creates, read ahead.

Which appointments hold a seat that overlaps a slot (double bookings) and which live patients look
like a new one (probable duplicates) used to be one query per op. A push now reads them for all of
its ops in one query each, before it writes anything, and keeps what it read current as it writes
(`written`), so its ops are answered from memory. A question outside what was read (`covers` /
`knows` is false) is read then, in one query, and remembered too.

Only for rows no one else can change meanwhile: the clinic's own, whose writers are serialised
(rows.lock_clinic), and only while the push's rows and what was read change together: a
`RowWriter` keeps them in its batched mode (the first pass of apply.push_together, which is rolled back
whole if an op is refused).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, bindparam, literal_column, select

from desktop.domain import appointments as appt
from desktop.store.models import Appointment, Patient
from server_stub.db import one_of

ACTIVE = frozenset(s.value for s in appt.ACTIVE_STATUSES)
# Windows of appointments read in one query: those of a push closer than this are read together.
MERGE_GAP = timedelta(days=1)


class SeatHolder(NamedTuple):
    id: str
    starts_at: datetime
    ends_at: datetime
    seat: int


def holds_seat(row: Mapping[str, Any]) -> bool:
    return row.get("seat") is not None and row["status"] in ACTIVE and not row["deleted"]


@cache
def _holders(dialect: str) -> Select[Any]:
    table = Appointment.__table__
    return select(table.c.id, table.c.clinician_id, table.c.starts_at, table.c.ends_at, table.c.seat).where(
        one_of(table.c.clinician_id, "b_doctors", dialect),
        table.c.starts_at < bindparam("b_hi"),
        table.c.ends_at > bindparam("b_lo"),
        # Literal values, not a list of parameters: an IN of parameters is re-rendered at every call.
        table.c.status.in_([literal_column(f"'{s}'") for s in sorted(ACTIVE)]),
        table.c.deleted.is_(False),
        table.c.seat.is_not(None),
    )


class SeatHolders:
    """The seated active appointments of some doctors over some windows of time."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, SeatHolder]] = {}  # doctor -> appointment id -> holder
        self._doctor_of: dict[str, str] = {}
        self._windows: dict[str, list[tuple[datetime, datetime]]] = {}  # doctor -> windows read

    def read(self, conn: Connection, wanted: Iterable[tuple[str, datetime, datetime]]) -> None:
        """Read the holders of these (doctor, start, end) slots: one query per cluster of slots."""
        spans = sorted(wanted, key=lambda w: w[1])
        while spans:
            doctors, lo, hi = {spans[0][0]}, spans[0][1], spans[0][2]
            taken = 1
            for doctor, start, end in spans[1:]:
                if start > hi + MERGE_GAP:
                    break
                doctors.add(doctor)
                hi = max(hi, end)
                taken += 1
            spans = spans[taken:]
            self._read_window(conn, sorted(doctors), lo, hi)

    def _read_window(self, conn: Connection, doctors: list[str], lo: datetime, hi: datetime) -> None:
        params = {"b_doctors": doctors, "b_lo": lo, "b_hi": hi}
        for row_id, doctor, starts_at, ends_at, seat in conn.execute(_holders(conn.dialect.name), params):
            self._put(doctor, SeatHolder(row_id, starts_at, ends_at, seat))
        for doctor in doctors:
            self._windows.setdefault(doctor, []).append((lo, hi))

    def covers(self, doctor: str, start: datetime, end: datetime) -> bool:
        return any(lo <= start and end <= hi for lo, hi in self._windows.get(doctor, ()))

    def overlapping(self, doctor: str, row_id: str, start: datetime, end: datetime) -> list[SeatHolder]:
        """The other holders of seats overlapping [start, end), earliest first (`covers` must hold)."""
        found = [
            h
            for h in self._held.get(doctor, {}).values()
            if h.id != row_id and h.starts_at < end and h.ends_at > start
        ]
        found.sort(key=lambda h: (h.starts_at, h.id))
        return found

    def written(self, row: Mapping[str, Any]) -> None:
        """An appointment as it was just written."""
        if holds_seat(row):
            holder = SeatHolder(row["id"], row["starts_at"], row["ends_at"], row["seat"])
            self._put(row["clinician_id"], holder)
        else:
            self._drop(row["id"])

    def _put(self, doctor: str, holder: SeatHolder) -> None:
        self._drop(holder.id)
        self._held.setdefault(doctor, {})[holder.id] = holder
        self._doctor_of[holder.id] = doctor

    def _drop(self, row_id: str) -> None:
        doctor = self._doctor_of.pop(row_id, None)
        if doctor is not None:
            del self._held[doctor][row_id]


def same_person_key(row: Mapping[str, Any]) -> tuple[str, str | None]:
    return row["name_key"], row.get("phone") or None


@cache
def _look_alikes(dialect: str) -> Select[Any]:
    """Live patients of the clinic with one of these name keys or phones. The clinic is named in
    each branch of the OR, so that each branch is a search of its own index (SQLite's multi-index
    OR, PostgreSQL's bitmap OR) rather than a scan of the clinic's patients."""
    table = Patient.__table__
    clinic = table.c.clinic_id == bindparam("b_clinic")
    return select(table.c.id, table.c.name_key, table.c.phone, table.c.birth_date).where(
        (clinic & one_of(table.c.name_key, "b_keys", dialect))
        | (clinic & one_of(table.c.phone, "b_phones", dialect)),
        table.c.deleted.is_(False),
        table.c.merged_into.is_(None),
    )


class _Person(NamedTuple):
    name_key: str
    phone: str | None
    birth_date: date


class LookAlikes:
    """The clinic's live patients sharing a name key or a phone number with some patients, found
    by name key and by phone (a 1,000-op push registers hundreds of patients: no scan of all)."""

    def __init__(self, clinic_id: str) -> None:
        self.clinic_id = clinic_id
        self._people: dict[str, _Person] = {}
        self._by_key: dict[str, set[str]] = defaultdict(set)
        self._by_phone: dict[str, set[str]] = defaultdict(set)
        self._keys: set[str] = set()
        self._phones: set[str] = set()

    def read(self, conn: Connection, wanted: Iterable[tuple[str, str | None]]) -> None:
        """Read the look-alikes of these (name key, phone) in one query."""
        keys: set[str] = set()
        phones: set[str] = set()
        for key, phone in wanted:
            keys.add(key)
            if phone:
                phones.add(phone)
        params = {"b_clinic": self.clinic_id, "b_keys": sorted(keys), "b_phones": sorted(phones)}
        for row_id, name_key, phone, birth_date in conn.execute(_look_alikes(conn.dialect.name), params):
            self._put(row_id, _Person(name_key, phone, birth_date))
        self._keys |= keys
        self._phones |= phones

    def knows(self, row: Mapping[str, Any]) -> bool:
        key, phone = same_person_key(row)
        return key in self._keys and (phone is None or phone in self._phones)

    def first_match(self, row: Mapping[str, Any]) -> str | None:
        """The first other live patient (by id) with the same name key and birth date, or the same
        phone and birth date (`knows` must hold)."""
        key, phone = same_person_key(row)
        candidates = self._by_key.get(key, set())
        if phone is not None:
            candidates = candidates | self._by_phone.get(phone, set())
        birth = row["birth_date"]
        return min(
            (other for other in candidates if other != row["id"] and self._people[other].birth_date == birth),
            default=None,
        )

    def written(self, row: Mapping[str, Any]) -> None:
        """A patient as it was just written."""
        self._drop(row["id"])
        if not row["deleted"] and row.get("merged_into") is None:
            self._put(row["id"], _Person(row["name_key"], row.get("phone") or None, row["birth_date"]))

    def _put(self, row_id: str, person: _Person) -> None:
        self._drop(row_id)
        self._people[row_id] = person
        self._by_key[person.name_key].add(row_id)
        if person.phone:
            self._by_phone[person.phone].add(row_id)

    def _drop(self, row_id: str) -> None:
        person = self._people.pop(row_id, None)
        if person is not None:
            self._by_key[person.name_key].discard(row_id)
            if person.phone:
                self._by_phone[person.phone].discard(row_id)


class TakenCodes:
    """Human codes (`PAT-…`, `APT-…`) known to be taken or free on the server, of those asked,
    kept current as rows are written (a code is never freed: deleted rows keep theirs)."""

    def __init__(self) -> None:
        self._asked: set[tuple[str, str]] = set()
        self._taken: set[tuple[str, str]] = set()

    def learn(self, asked: Iterable[tuple[str, str]], taken: Iterable[tuple[str, str]]) -> None:
        self._asked.update(asked)
        self._taken.update(taken)

    def knows(self, entity: str, code: str) -> bool:
        return (entity, code) in self._asked or (entity, code) in self._taken

    def taken(self, entity: str, code: str) -> bool:
        return (entity, code) in self._taken

    def written(self, entity: str, code: str) -> None:
        self._taken.add((entity, code))
