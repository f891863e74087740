"""A realistic demo clinic, made entirely through the services so that every row is journaled
like any other change (and would sync like one).

The story: the clinic was set up two months before the demo day, patients registered over
those weeks, appointments for the demo day were booked in the days before it (online requests
accepted, a few still waiting, one rejected, some cancelled, one moved), and the demo day runs
from 08:30 to 10:30 in the clinic's zone: arrivals check in at the kiosk, walk-ins and an
emergency come in, doctors call the queue, write notes and prescriptions, one patient is
skipped and comes back, one never turns up. `DemoClock` is the store's "now" and moves through
the story, so every timestamp and every rule that depends on the time (slots in the past,
today's tokens) agrees with it. Same seed, same clinic (ids and random codes aside).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from sqlalchemy import exists, func, select

from desktop.domain.appointments import AppointmentStatus, AppointmentType, Urgency
from desktop.domain.errors import BookingConflict, InvalidInput, NotFound, ProbableDuplicate
from desktop.domain.patients import age_on, name_key, normalise_phone
from desktop.domain.roles import Role
from desktop.domain.scheduling import Slot
from desktop.domain.staff import hash_password
from desktop.services import availability, booking, consultations, patients, prescriptions, queue
from desktop.services import clinic as clinic_service
from desktop.services.common import KIOSK, SYSTEM, Actor, current_clinic
from desktop.services.records import ClinicianRecord, record_of
from desktop.store.local import LocalStore
from desktop.store.models import Appointment, Clinician, Consultation, Patient, Prescription, QueueToken
from desktop.store.uow import UnitOfWork

DEFAULT_SEED = 7
CLINIC_NAME = "Sunrise Family Clinic"
CLINIC_TIMEZONE = "Asia/Kolkata"
CLINIC_REGION = "IN"
CLINIC_ADDRESS = "14 Residency Road, Bengaluru 560025"
STAFF_PASSWORD = "clinicdesk"  # every demo account signs in with it
PATIENTS = 300
NEWCOMERS = 2  # of them, register at the kiosk when they walk in on the demo day
DAY_STARTS = time(8, 30)
DEMO_MOMENT = time(10, 30)  # where the demo day's clock stops


class DemoClock:
    """A settable "now" for `LocalStore(now=...)`; the real time until `set` is called."""

    def __init__(self) -> None:
        self._at: datetime | None = None

    def __call__(self) -> datetime:
        return self._at or datetime.now(UTC)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("DemoClock needs an aware datetime")
        self._at = at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DemoResult:
    clinic_name: str
    day: date
    now: datetime  # the demo moment, where the clock was left
    doctors: int
    staff: int
    patients: int
    appointments: int  # on the demo day
    tokens: int
    consultations: int
    prescriptions: int


# -- what the clinic looks like --------------------------------------------------------------

Medicine = dict[str, str]


def _med(name: str, strength: str, dose: str, frequency: str, duration: str, route: str = "oral") -> Medicine:
    return {
        "name": name,
        "strength": strength,
        "dose": dose,
        "route": route,
        "frequency": frequency,
        "duration": duration,
    }


@dataclass(frozen=True, slots=True)
class Visit:
    """Why a patient comes, and what the doctor writes when they do."""

    reason: str
    complaint: str
    notes: str
    diagnosis: str
    medicines: tuple[Medicine, ...] = ()


@dataclass(frozen=True, slots=True)
class Specialty:
    name: str
    slot_minutes: int
    hours: tuple[tuple[time, time], ...]  # Monday to Friday
    tea_break: tuple[time, time]
    visit_minutes: tuple[int, int]
    fill: float  # share of the demo day's slots booked beforehand
    min_age: int
    max_age: int
    women_only: bool
    visits: tuple[Visit, ...]


GENERAL = Specialty(
    "General medicine",
    10,
    ((time(9), time(13)), (time(14), time(18))),
    (time(11), time(11, 15)),
    (7, 14),
    0.7,
    15,
    120,
    False,
    (
        Visit(
            "Fever and cough",
            "Fever and dry cough for 3 days",
            "Temp 38.2 °C, throat congested, chest clear. SpO2 98%.",
            "Acute upper respiratory tract infection",
            (
                _med("Paracetamol", "650 mg", "1 tablet", "every 8 hours if fever", "3 days"),
                _med("Cetirizine", "10 mg", "1 tablet", "at night", "5 days"),
            ),
        ),
        Visit(
            "Diabetes review",
            "Routine diabetes review, no complaints",
            "FBS 142 mg/dL, HbA1c 7.4%. Feet normal. Advised diet and walking.",
            "Type 2 diabetes mellitus",
            (_med("Metformin", "500 mg", "1 tablet", "twice daily after meals", "30 days"),),
        ),
        Visit(
            "Blood pressure check",
            "Headache in the mornings",
            "BP 152/96, repeat 148/94. No focal signs.",
            "Essential hypertension",
            (_med("Amlodipine", "5 mg", "1 tablet", "once daily", "30 days"),),
        ),
        Visit(
            "Back pain",
            "Low back pain after lifting, 1 week",
            "Paraspinal tenderness L4-L5, SLR negative, no red flags.",
            "Mechanical low back pain",
            (
                _med("Diclofenac gel", "1%", "apply thinly", "three times daily", "7 days", route="topical"),
                _med("Paracetamol", "500 mg", "1 tablet", "every 8 hours if pain", "5 days"),
            ),
        ),
        Visit(
            "Health check-up",
            "Annual check-up",
            "BMI 24.1, BP 124/80. Lipid profile and CBC ordered.",
            "",
        ),
    ),
)
PAEDIATRICS = Specialty(
    "Paediatrics",
    15,
    ((time(9), time(13)), (time(15), time(18))),
    (time(11), time(11, 15)),
    (8, 14),
    0.65,
    0,
    14,
    False,
    (
        Visit(
            "Vaccination",
            "Due for scheduled vaccines",
            "Well child. Weight and height on the 50th centile. Vaccines given, no reaction in 15 min.",
            "",
        ),
        Visit(
            "Fever",
            "Fever since yesterday, eating less",
            "Temp 38.6 °C, ears and throat normal, no rash, well hydrated.",
            "Viral fever",
            (_med("Paracetamol syrup", "250 mg/5 ml", "5 ml", "every 6 hours if fever", "3 days"),),
        ),
        Visit(
            "Loose motions",
            "Loose stools 5 times since morning",
            "Mild dehydration, abdomen soft. Oral rehydration advised.",
            "Acute gastroenteritis",
            (
                _med("ORS", "1 sachet in 1 L water", "100 ml", "after each loose stool", "3 days"),
                _med("Zinc", "20 mg", "1 dispersible tablet", "once daily", "14 days"),
            ),
        ),
        Visit(
            "Cough and cold",
            "Runny nose and cough for 4 days",
            "Chest clear, no distress.",
            "Common cold",
            (
                _med(
                    "Saline nasal drops",
                    "0.65%",
                    "2 drops each nostril",
                    "four times daily",
                    "5 days",
                    "nasal",
                ),
            ),
        ),
    ),
)
GYNAECOLOGY = Specialty(
    "Gynaecology",
    20,
    ((time(9, 30), time(13, 30)), (time(15), time(17))),
    (time(11, 30), time(11, 45)),
    (12, 20),
    0.6,
    15,
    60,
    True,
    (
        Visit(
            "Antenatal check-up",
            "Routine antenatal visit",
            "BP 112/70, fundal height matches dates, fetal heart 144/min.",
            "Normal pregnancy",
            (
                _med("Folic acid", "5 mg", "1 tablet", "once daily", "30 days"),
                _med("Calcium carbonate", "500 mg", "1 tablet", "twice daily", "30 days"),
            ),
        ),
        Visit(
            "Irregular periods",
            "Cycles of 40 to 60 days for a year",
            "BMI 28. Ultrasound and hormone profile ordered.",
            "Polycystic ovary syndrome, suspected",
        ),
        Visit(
            "Pap smear",
            "Routine screening",
            "Smear taken, cervix healthy-looking.",
            "",
        ),
    ),
)
CARDIOLOGY = Specialty(
    "Cardiology",
    20,
    ((time(10), time(13)), (time(14), time(17))),
    (time(12), time(12, 15)),
    (12, 20),
    0.55,
    35,
    120,
    False,
    (
        Visit(
            "Chest pain on exertion",
            "Tightness in the chest climbing stairs, 2 weeks",
            "ECG: no acute changes. TMT and echo booked.",
            "Stable angina, suspected",
            (
                _med("Aspirin", "75 mg", "1 tablet", "once daily after lunch", "30 days"),
                _med("Atorvastatin", "40 mg", "1 tablet", "at night", "30 days"),
                _med(
                    "Nitroglycerin", "0.4 mg", "1 tablet", "if chest pain, up to 3", "30 days", "sublingual"
                ),
            ),
        ),
        Visit(
            "Palpitations",
            "Episodes of fast heartbeat",
            "ECG sinus rhythm 84/min. Holter monitoring advised.",
            "Palpitations, under evaluation",
        ),
        Visit(
            "Hypertension follow-up",
            "Review of blood pressure on treatment",
            "BP 136/84 on telmisartan. Echo: mild LVH.",
            "Hypertension with left ventricular hypertrophy",
            (_med("Telmisartan", "40 mg", "1 tablet", "once daily", "30 days"),),
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class DoctorPlan:
    name: str
    username: str
    specialty: Specialty
    room: str
    saturday: tuple[time, time] | None = None
    sunday: tuple[time, time] | None = None
    fill: float | None = None  # overrides the specialty's


DOCTORS = (
    DoctorPlan("Dr Priya Raman", "priya.raman", GENERAL, "Room 1", (time(9), time(13)), (time(10), time(13))),
    DoctorPlan("Dr Arjun Mehta", "arjun.mehta", GENERAL, "Room 2", (time(9), time(13))),
    DoctorPlan(
        "Dr Kavita Iyer", "kavita.iyer", PAEDIATRICS, "Room 3", (time(9), time(13)), (time(10), time(13))
    ),
    DoctorPlan("Dr Rahul Desai", "rahul.desai", PAEDIATRICS, "Room 4", (time(9), time(13))),
    DoctorPlan(
        "Dr Ananya Bose",
        "ananya.bose",
        GYNAECOLOGY,
        "Room 5",
        (time(9, 30), time(12, 30)),
        (time(10), time(12)),
    ),
    DoctorPlan("Dr Fatima Sheikh", "fatima.sheikh", GYNAECOLOGY, "Room 6"),
    # Fully booked on the demo day: a patient waits on his waiting list for a cancellation.
    DoctorPlan("Dr Vikram Nair", "vikram.nair", CARDIOLOGY, "Room 7", (time(10), time(13)), fill=1.0),
    DoctorPlan("Dr Suresh Reddy", "suresh.reddy", CARDIOLOGY, "Room 8", sunday=(time(10), time(12))),
)
ON_LEAVE = "rahul.desai"  # away from the day before the demo day to two days after
WAITLISTED_FOR = "vikram.nair"
ADMIN = "anjali.iyer"  # sets the clinic's holidays and the doctors' hours
OTHER_STAFF = (
    ("Meera Thomas", "meera.thomas", Role.NURSE),
    ("Rohit Kulkarni", "rohit.kulkarni", Role.RECEPTION),
    ("Anjali Iyer", ADMIN, Role.ADMIN),
)


def staff() -> list[tuple[str, str, Role, str, str]]:
    """Every demo account: (name, username, role, specialty, room). A server administrator makes
    them on the server (`clinic demo --headless`), or the demo on a device set up on its own."""
    doctors = [(p.name, p.username, Role.DOCTOR, p.specialty.name, p.room) for p in DOCTORS]
    return doctors + [(name, username, role, "", "") for name, username, role in OTHER_STAFF]


@dataclass(frozen=True, slots=True)
class NamePool:
    share: float
    language: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]


NAME_POOLS = (
    NamePool(
        0.24,
        "hi",
        (
            "Aanya",
            "Priya",
            "Sunita",
            "Pooja",
            "Neha",
            "Kavya",
            "Ishita",
            "Riya",
            "Anjali",
            "Sneha",
            "Aditi",
            "Shweta",
            "Nandini",
            "Swati",
            "Preeti",
            "Shalini",
            "Vandana",
            "Pallavi",
            "Rashmi",
            "Sakshi",
        ),
        (
            "Aarav",
            "Rohan",
            "Amit",
            "Rajesh",
            "Vivek",
            "Karan",
            "Sanjay",
            "Vikas",
            "Manish",
            "Deepak",
            "Nikhil",
            "Ankit",
            "Gaurav",
            "Rakesh",
            "Alok",
            "Varun",
            "Saurabh",
            "Pankaj",
            "Ashok",
            "Harsh",
        ),
        (
            "Sharma",
            "Verma",
            "Gupta",
            "Agarwal",
            "Mishra",
            "Yadav",
            "Chauhan",
            "Kapoor",
            "Joshi",
            "Pandey",
            "Srivastava",
            "Tiwari",
            "Saxena",
            "Bhatia",
            "Malhotra",
            "Tripathi",
        ),
    ),
    NamePool(
        0.2,
        "ta",
        (
            "Lakshmi",
            "Divya",
            "Revathi",
            "Kaveri",
            "Anitha",
            "Deepa",
            "Padmini",
            "Meenakshi",
            "Sowmya",
            "Bhavana",
            "Gayathri",
            "Harini",
            "Keerthana",
            "Vidya",
            "Sangeetha",
            "Nithya",
        ),
        (
            "Karthik",
            "Suresh",
            "Venkatesh",
            "Srinivas",
            "Ramesh",
            "Arun",
            "Ganesh",
            "Prakash",
            "Murali",
            "Balaji",
            "Dinesh",
            "Harish",
            "Naveen",
            "Raghav",
            "Sathish",
            "Vignesh",
        ),
        (
            "Iyer",
            "Iyengar",
            "Reddy",
            "Naidu",
            "Pillai",
            "Menon",
            "Nair",
            "Rao",
            "Krishnan",
            "Gowda",
            "Shetty",
            "Hegde",
            "Subramanian",
            "Raman",
            "Varma",
            "Kurup",
        ),
    ),
    NamePool(
        0.08,
        "bn",
        ("Ananya", "Moumita", "Sayani", "Rituparna", "Tanushree", "Debolina", "Paromita", "Sreya"),
        ("Sourav", "Arijit", "Debashis", "Subhankar", "Abhijit", "Anirban", "Partha", "Sayan"),
        ("Banerjee", "Chatterjee", "Mukherjee", "Ghosh", "Das", "Sen", "Bose", "Dutta", "Chakraborty"),
    ),
    NamePool(
        0.12,
        "mr",
        ("Sayali", "Gauri", "Mrunal", "Hetal", "Komal", "Janhavi", "Ketaki", "Rutuja", "Foram", "Bhakti"),
        ("Omkar", "Sachin", "Tushar", "Hardik", "Parth", "Mihir", "Aniket", "Chirag", "Kunal", "Yash"),
        ("Patil", "Deshpande", "Kulkarni", "Shah", "Patel", "Desai", "Jadhav", "Gokhale", "Mehta", "Pawar"),
    ),
    NamePool(
        0.1,
        "ur",
        ("Ayesha", "Fatima", "Zoya", "Sana", "Nazia", "Rukhsar", "Mehnaz", "Shabana", "Heena", "Tabassum"),
        ("Imran", "Faizan", "Arif", "Salman", "Irfan", "Zaid", "Sameer", "Rizwan", "Tariq", "Adil"),
        ("Khan", "Sheikh", "Ansari", "Qureshi", "Siddiqui", "Syed", "Mirza", "Pathan"),
    ),
    NamePool(
        0.06,
        "en",
        ("Maria", "Sarah", "Anita", "Teresa", "Ruth", "Priscilla", "Lydia", "Celine"),
        ("Joseph", "Thomas", "Anthony", "Francis", "Aloysius", "Sebastian", "Jerome", "Dominic"),
        ("D'Souza", "Fernandes", "Pereira", "George", "Mathew", "Rodrigues", "Pinto", "Lobo"),
    ),
    NamePool(
        0.05,
        "pa",
        ("Harpreet", "Simran", "Gurpreet", "Navneet", "Jasleen", "Amrit"),
        ("Manpreet", "Jaspreet", "Gurdeep", "Harjit", "Baljeet", "Kuldeep"),
        ("Singh", "Gill", "Sandhu", "Dhillon", "Kaur", "Grewal", "Bedi"),
    ),
    # Registered at the kiosk in their own script.
    NamePool(
        0.05,
        "hi",
        ("अनीता", "सुनीता", "पूजा", "कविता", "रेखा", "सीमा", "ममता"),
        ("राजेश", "महेश", "सुरेश", "अमित", "विजय", "मनोज", "संजय"),
        ("शर्मा", "वर्मा", "यादव", "गुप्ता", "सिंह", "मिश्रा", "चौधरी"),
    ),
    NamePool(
        0.03,
        "ta",
        ("லட்சுமி", "மீனா", "கவிதா", "செல்வி"),
        ("கார்த்திக்", "முருகன்", "செந்தில்", "பாலு"),
        ("ராஜா", "சுப்பிரமணியம்", "கிருஷ்ணன்", "வேலு"),
    ),
    NamePool(
        0.02,
        "bn",
        ("অনন্যা", "মৌমিতা", "শ্রেয়া"),
        ("সৌরভ", "অরিজিৎ", "তন্ময়"),
        ("সেন", "ঘোষ", "দাস", "বসু"),
    ),
    NamePool(
        0.05,
        "en",
        ("Zoë", "Chloé", "Renée", "Inês", "Łucja", "Mónica", "Agnès"),
        ("José", "François", "Søren", "João", "Jürgen", "Noël", "Andrés"),
        ("Müller", "Gonçalves", "Nielsen", "Dubois", "Kowalski", "Fernández", "Araújo"),
    ),
)
AREAS = (
    ("Koramangala", "560034"),
    ("Indiranagar", "560038"),
    ("Jayanagar", "560041"),
    ("Whitefield", "560066"),
    ("HSR Layout", "560102"),
    ("Malleshwaram", "560003"),
    ("BTM Layout", "560076"),
    ("Basavanagudi", "560004"),
    ("Hebbal", "560024"),
)
STREETS = ("1st Main Road", "4th Cross", "80 Feet Road", "Temple Street", "5th Block", "Church Road")
ALLERGIES = ("Penicillin", "Sulfonamides", "Aspirin", "Peanuts", "Dust mites", "Ibuprofen", "Latex")
MOBILE_PREFIXES = (
    "98",
    "99",
    "97",
    "96",
    "94",
    "93",
    "90",
    "89",
    "88",
    "87",
    "81",
    "80",
    "79",
    "78",
    "70",
    "63",
)
# (age band, weight) of the registered patients.
AGE_BANDS = (((0, 4), 7), ((5, 14), 13), ((15, 39), 30), ((40, 64), 32), ((65, 92), 18))


@dataclass(slots=True)
class PatientPlan:
    full_name: str
    sex: str
    birth_date: date
    phone: str | None
    email: str | None
    address: str
    allergies: str
    language: str
    registered_at: datetime
    newcomer: bool = False  # walks in on the demo day and registers at the kiosk
    twin: bool = False  # registered right after a twin: same birthday, same parent's phone
    id: str = ""  # once registered


@dataclass(slots=True)
class Booking:
    """One appointment of the demo day, planned before any is made."""

    doctor: DoctorPlan
    slot: Slot
    patient: int  # index into the patients
    kind: AppointmentType
    visit: Visit
    made_at: datetime
    fate: str = "confirmed"  # confirmed | requested | rejected | cancelled | rescheduled | no_show
    id: str = ""  # once booked


@dataclass(frozen=True, slots=True)
class WalkIn:
    at: datetime
    patient: int
    doctor: str  # username
    kind: AppointmentType
    urgency: Urgency
    visit: Visit
    pregnant: bool = False


@dataclass(order=True, slots=True)
class Event:
    at: datetime
    seq: int
    run: Callable[[], object] = field(compare=False)


def generate(
    store: LocalStore,
    clock: DemoClock,
    *,
    seed: int = DEFAULT_SEED,
    day: date | None = None,
    moment: time = DEMO_MOMENT,
) -> DemoResult:
    """Fill an empty store with a demo clinic whose demo day is `day` (default: the clinic's today).

    `clock` must be the store's `now`; it is left at the demo moment (`moment` on the demo day,
    10:30 unless said otherwise: `live_demo_zone` makes it the time it is now).
    An existing clinic (from `clinic init`, or a server's) is used as it is, and so are the demo's
    own staff accounts made on a server (`staff()`); other staff or patients already there are
    refused, so that the demo never mixes with real data.
    """
    if store.now is not clock:
        raise ValueError("open the store with now=clock, so that the demo controls the time")
    return _Demo(store, clock, random.Random(seed), day, moment).run()


def live_demo_zone(now: datetime) -> str:
    """A time zone in which it is the clinic's busy morning (10:00–10:59) at `now`.

    A demo viewed as it runs (the board, the desk) must look right at whatever hour it is run:
    consultations done before now, waits that grow. The demo clinic keeps the time of a zone
    where its morning is under way — its own (Asia/Kolkata) when it is, else the first city
    zone that is — and its demo day is played up to the minute it is there now.
    """
    cities = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    for zone in (CLINIC_TIMEZONE, *cities):
        if now.astimezone(ZoneInfo(zone)).hour == DEMO_MOMENT.hour:
            return zone
    raise LookupError("no time zone is at 10 o'clock now")  # unreachable: zones span every hour


class _Demo:
    def __init__(
        self, store: LocalStore, clock: DemoClock, rng: random.Random, day: date | None, moment: time
    ):
        self.store, self.clock, self.rng = store, clock, rng
        with store.reading() as session:
            self.staff: dict[str, ClinicianRecord] = {
                c.username: record_of(ClinicianRecord, c) for c in session.scalars(select(Clinician))
            }
            demo_staff = {username for _, username, *_ in staff()}
            ours = not self.staff or set(self.staff) == demo_staff
            if not ours or session.scalar(select(exists().where(Patient.id.is_not(None)))):
                raise InvalidInput(
                    f"{store.data_dir} already holds clinic data; demo-data needs a fresh data dir.",
                    field="data_dir",
                )
            try:
                clinic = current_clinic(session)
                self.clinic_name, zone, self.has_clinic = clinic.name, clinic.timezone, True
            except NotFound:
                self.clinic_name, zone, self.has_clinic = CLINIC_NAME, CLINIC_TIMEZONE, False
        self.tz = ZoneInfo(zone)
        self.day = day or datetime.now(self.tz).date()
        self.holiday = self.pick_holiday()
        self.working = [p for p in DOCTORS if p.username != ON_LEAVE and self.day.weekday() in self.week(p)]
        self.moment = self.at(0, moment.hour, moment.minute)
        self.doctors: dict[str, ClinicianRecord] = {}
        self.actors: dict[str, Actor] = {}
        self.patients: list[PatientPlan] = []
        self.bookings: list[Booking] = []
        self.visits: dict[str, Visit] = {}  # appointment id -> what the patient comes for
        self.waitlisted: int | None = None
        self.events: list[Event] = []
        self.seq = itertools.count()
        self.waiting: dict[str, int] = {}  # doctor username -> tokens waiting (mirrors the queue)
        self.busy: dict[str, tuple[datetime, str]] = {}  # username -> (consultation ends, its id)
        self.skipped = False
        self.followed_up = False

    # -- time ------------------------------------------------------------------------------

    def at(self, day_offset: int, hh: int, mm: int = 0) -> datetime:
        return datetime.combine(self.day + timedelta(days=day_offset), time(hh, mm), tzinfo=self.tz)

    def later(self, at: datetime, run: Callable[[], object]) -> None:
        heapq.heappush(self.events, Event(at, next(self.seq), run))

    def act(self, action: Callable[..., Any], **kwargs: Any) -> Any:
        """One service call in its own unit of work, at the clock's time."""
        with self.store.unit_of_work(actor=kwargs.get("actor")) as uow:
            return action(uow, **kwargs)

    def play(self, until: datetime) -> None:
        """Run the events due before `until` in time order, each at its own time."""
        while self.events and self.events[0].at < until:
            event = heapq.heappop(self.events)
            self.clock.set(event.at)
            event.run()

    def play_morning(self) -> None:
        """The demo day up to the demo moment, minute by minute: that minute's events, then the doctors."""
        minute = self.at(0, DAY_STARTS.hour, DAY_STARTS.minute)
        while minute < self.moment:
            self.play(minute + timedelta(minutes=1))
            self.clock.set(minute)
            self.doctors_work(minute)
            minute += timedelta(minutes=1)

    # -- the story -------------------------------------------------------------------------

    def run(self) -> DemoResult:
        self.clock.set(self.at(-60, 8))
        self.set_up()
        self.plan_patients()
        for index, plan in enumerate(self.patients):
            if not plan.newcomer:
                self.later(plan.registered_at, lambda i=index: self.register(i))
        self.play(self.at(-15, 8))
        self.plan_bookings()
        self.play(self.at(0, DAY_STARTS.hour, DAY_STARTS.minute))
        self.plan_walk_ins()
        self.play_morning()
        self.clock.set(self.moment)
        return self.result()

    def result(self) -> DemoResult:
        start, end = self.at(0, 0), self.at(1, 0)
        with self.store.reading() as session:

            def count(model: Any, *where: Any) -> int:
                return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

            return DemoResult(
                self.clinic_name,
                self.day,
                self.moment,
                doctors=count(Clinician, Clinician.role == Role.DOCTOR.value),
                staff=count(Clinician),
                patients=count(Patient),
                appointments=count(Appointment, Appointment.starts_at >= start, Appointment.starts_at < end),
                tokens=count(QueueToken, QueueToken.day == self.day),
                consultations=count(Consultation),
                prescriptions=count(Prescription, Prescription.status == "issued"),
            )

    def set_up(self) -> None:
        """The clinic and its staff (unless a server made them), then, as its administrator, the
        clinic's holiday and the doctors' hours."""
        if not self.staff:
            with self.store.unit_of_work() as uow:  # the device's own set-up: never pushed
                if not self.has_clinic:
                    clinic_service.create_clinic(
                        uow,
                        actor=SYSTEM,
                        name=CLINIC_NAME,
                        timezone=CLINIC_TIMEZONE,
                        region=CLINIC_REGION,
                        address=CLINIC_ADDRESS,
                    )
                # Every demo account has the same published password: hash it once (Argon2 takes
                # ~0.15 s a hash, most of the demo's set-up) and give each account that hash.
                password_hash = hash_password(STAFF_PASSWORD)
                for name, username, role, specialty, room in staff():
                    self.staff[username] = clinic_service.add_clinician(
                        uow,
                        actor=SYSTEM,
                        name=name,
                        username=username,
                        role=role,
                        specialty=specialty,
                        room=room,
                        password_hash=password_hash,
                    )
        for username, member in self.staff.items():
            self.actors[username] = Actor(Role(member.role), member.id, member.name)
            if member.role == Role.DOCTOR:
                self.doctors[username] = member
        admin = self.actors[ADMIN]
        with self.store.unit_of_work(actor=admin) as uow:
            clinic_service.set_holidays(uow, actor=admin, holidays=[self.holiday])
        self.reception = self.actors["rohit.kulkarni"]
        self.nurse = self.actors["meera.thomas"]
        for plan in DOCTORS:
            with self.store.unit_of_work(actor=admin) as uow:
                self.set_hours(uow, plan, admin)
        self.later(
            self.at(-10, 17),
            lambda: self.act(
                availability.add_leave,
                actor=self.actors[ON_LEAVE],
                clinician_id=self.doctors[ON_LEAVE].id,
                first_day=self.day - timedelta(days=1),
                last_day=self.day + timedelta(days=2),
                note="Paediatrics conference, Chennai",
            ),
        )

    def pick_holiday(self) -> date:
        """A weekday ten days or so after the demo day, never on its weekday (follow-ups go there)."""
        d = self.day + timedelta(days=9)
        while d.weekday() >= 5 or (d - self.day).days % 7 == 0:
            d += timedelta(days=1)
        return d

    def week(self, plan: DoctorPlan) -> dict[int, tuple[tuple[time, time], ...]]:
        """A doctor's working windows per weekday (0 = Monday)."""
        out = dict.fromkeys(range(5), plan.specialty.hours)
        if plan.saturday:
            out[5] = (plan.saturday,)
        if plan.sunday:
            out[6] = (plan.sunday,)
        return out

    def set_hours(self, uow: UnitOfWork, plan: DoctorPlan, admin: Actor) -> None:
        doctor_id = self.doctors[plan.username].id
        first, last = self.day - timedelta(days=self.day.weekday()), self.day + timedelta(days=30)
        tea_start, tea_end = plan.specialty.tea_break
        for weekday, windows in self.week(plan).items():
            for start, end in windows:
                availability.set_hours(
                    uow,
                    actor=admin,
                    clinician_id=doctor_id,
                    weekday=weekday,
                    start=start,
                    end=end,
                    slot_minutes=plan.specialty.slot_minutes,
                    valid_from=first,
                    valid_to=last,
                )
            if any(start <= tea_start and tea_end <= end for start, end in windows):
                availability.add_break(
                    uow,
                    actor=admin,
                    clinician_id=doctor_id,
                    weekday=weekday,
                    start=tea_start,
                    end=tea_end,
                    note="Tea",
                )

    # -- patients --------------------------------------------------------------------------

    def register(self, index: int, *, actor: Actor | None = None) -> None:
        plan = self.patients[index]
        values: dict[str, Any] = {
            "full_name": plan.full_name,
            "birth_date": plan.birth_date,
            "sex": plan.sex,
            "phone": plan.phone,
            "email": plan.email,
            "address": plan.address,
            "allergies": plan.allergies,
            "preferred_language": plan.language,
        }
        actor = actor or self.reception
        with self.store.unit_of_work(actor=actor) as uow:
            try:
                patient = patients.register(uow, actor=actor, **values)
            except ProbableDuplicate:
                if not plan.twin:
                    raise
                # The receptionist looks at the match, sees a sibling, and confirms a new patient.
                patient = patients.register(uow, actor=actor, confirm_new=True, **values)
        plan.id = patient.id

    def plan_patients(self) -> None:
        """300 people: varied names and scripts, ages, valid Indian mobiles, a pair of twins and
        NEWCOMERS who register at the kiosk on the demo day; no accidental duplicates."""
        keys: set[tuple[str, date]] = set()
        phones: set[str | None] = {None}
        first_day, last_day = self.day - timedelta(days=58), self.day - timedelta(days=1)

        def unique(plan: PatientPlan) -> bool:
            key = (name_key(plan.full_name), plan.birth_date)
            phone = normalise_phone(plan.phone, CLINIC_REGION)
            if key in keys or (phone in phones and phone is not None):
                return False
            keys.add(key)
            phones.add(phone)
            return True

        while len(self.patients) < PATIENTS - NEWCOMERS - 1:
            plan = self.plan_patient(first_day, last_day)
            if unique(plan):
                self.patients.append(plan)
        sister = next(p for p in self.patients if 3 <= age_on(p.birth_date, self.day) <= 11 and p.phone)
        surname = sister.full_name.split()[-1]
        pool = next(pool for pool in NAME_POOLS if surname in pool.surnames)
        brother = replace(
            sister,
            full_name=f"{self.rng.choice(pool.male)} {'Singh' if surname == 'Kaur' else surname}",
            sex="male",
            email=None,
            allergies="",
            registered_at=sister.registered_at + timedelta(minutes=3),
            twin=True,
        )
        self.patients.append(brother)
        while len(self.patients) < PATIENTS:
            plan = self.plan_patient(self.day, self.day)
            if unique(plan):
                plan.newcomer = True
                self.patients.append(plan)
        self.patients.sort(key=lambda p: (p.newcomer, p.registered_at))

    def plan_patient(self, first_day: date, last_day: date) -> PatientPlan:
        rng = self.rng
        pool = rng.choices(NAME_POOLS, weights=[p.share for p in NAME_POOLS])[0]
        sex = rng.choices(("female", "male", "other"), weights=(50, 49, 1))[0]
        given = rng.choice(pool.male if sex == "male" else pool.female)
        surname = rng.choice(pool.surnames)
        if surname == "Kaur" and sex == "male":
            surname = "Singh"
        (low, high), _ = rng.choices(AGE_BANDS, weights=[w for _, w in AGE_BANDS])[0]
        age = rng.randint(low, high)
        registered = datetime.combine(
            first_day + timedelta(days=rng.randint(0, (last_day - first_day).days)),
            time(rng.randint(9, 17), rng.randint(0, 59)),
            tzinfo=self.tz,
        )
        birth = self.day - timedelta(days=age * 365 + rng.randint(0, 364))
        birth = min(birth, registered.date() - timedelta(days=20))  # babies are registered after birth
        phone = None if age >= 80 and rng.random() < 0.3 else self.mobile_number()
        ascii_name = given.isascii() and surname.isascii()
        email = None
        if ascii_name and 18 <= age < 70 and rng.random() < 0.3:
            email = f"{given}.{surname}".lower().replace("'", "") + f"{rng.randint(1, 99)}@example.com"
        area, pin = rng.choice(AREAS)
        address = f"{rng.randint(1, 220)}, {rng.choice(STREETS)}, {area}, Bengaluru {pin}"
        allergies = rng.choice(ALLERGIES) if rng.random() < 0.12 else ""
        language = pool.language if not ascii_name or rng.random() < 0.6 else "en"
        return PatientPlan(
            f"{given} {surname}", sex, birth, phone, email, address, allergies, language, registered
        )

    def mobile_number(self) -> str:
        """A valid Indian mobile number, written the way people give it at the desk."""
        rng = self.rng
        while True:
            digits = rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))
            number = phonenumbers.parse(digits, CLINIC_REGION)
            if phonenumbers.number_type(number) is phonenumbers.PhoneNumberType.MOBILE:
                break
        return rng.choice((f"+91 {digits[:5]} {digits[5:]}", f"0{digits}", digits))

    # -- the demo day's appointments, booked in the days before it ---------------------------

    def eligible(self, specialty: Specialty, plan: PatientPlan) -> bool:
        age = age_on(plan.birth_date, self.day)
        return (
            specialty.min_age <= age <= specialty.max_age
            and (plan.sex == "female" or not specialty.women_only)
            and not plan.newcomer
        )

    def plan_bookings(self) -> None:
        rng = self.rng
        with self.store.reading() as session:
            slots = availability.find_free_slots(
                session,
                first_day=self.day,
                last_day=self.day,
                clinician_ids=[self.doctors[p.username].id for p in self.working],
                now=self.clock(),
            )
        used: set[int] = set()
        order = list(range(len(self.patients)))
        rng.shuffle(order)
        soon_kinds = (AppointmentType.KIOSK, AppointmentType.ONLINE, AppointmentType.FOLLOW_UP)
        later_kinds = (*soon_kinds, AppointmentType.TELEHEALTH)
        for plan in self.working:
            fill = plan.fill if plan.fill is not None else plan.specialty.fill
            for slot in slots.get(self.doctors[plan.username].id, []):
                if rng.random() >= fill:
                    continue
                who = next(
                    (i for i in order if i not in used and self.eligible(plan.specialty, self.patients[i])),
                    None,
                )
                if who is None:
                    break
                used.add(who)
                soon = slot.start <= self.moment + timedelta(minutes=45)  # arrives before the demo moment
                if soon:
                    kind = rng.choices(soon_kinds, weights=(3, 4, 3))[0]
                else:
                    kind = rng.choices(later_kinds, weights=(3, 4, 3, 1))[0]
                made_at = self.at(-rng.randint(1, 14), rng.randint(8, 21), rng.randint(0, 59))
                if kind is AppointmentType.KIOSK and not soon and rng.random() < 0.3:
                    made_at = self.at(0, 8, 35) + timedelta(minutes=rng.randint(0, 100))  # at the kiosk today
                made_at = max(
                    made_at, self.patients[who].registered_at + timedelta(minutes=rng.randint(5, 90))
                )
                visit = rng.choice(plan.specialty.visits)
                self.bookings.append(Booking(plan, slot, who, kind, visit, made_at))
        self.choose_fates()
        for b in self.bookings:
            self.later(b.made_at, lambda b=b: self.book(b))
        self.waitlisted = next(
            (
                i
                for i in order
                if i not in used
                and self.eligible(CARDIOLOGY, self.patients[i])
                and age_on(self.patients[i].birth_date, self.day) >= 50
            ),
            None,
        )
        if self.waitlisted is not None:
            self.later(self.at(-2, 12, 10), self.join_waitlist)

    def choose_fates(self) -> None:
        """What happens to each booking: most are kept; a few are still requests, rejected,
        cancelled, moved to another day, or never turn up."""
        rng = self.rng
        ahead = [b for b in self.bookings if b.made_at < self.at(0, 0)]
        later = [b for b in ahead if b.slot.start > self.moment + timedelta(hours=1)]
        online = [b for b in later if b.kind is AppointmentType.ONLINE]
        for b in rng.sample(online, min(4, len(online))):
            b.fate = "requested"
        rejectable = [b for b in online if b.fate == "confirmed" and b.doctor.username == "suresh.reddy"]
        if rejectable:
            rng.choice(rejectable).fate = "rejected"
        movable = [b for b in later if b.fate == "confirmed" and b.doctor.username != WAITLISTED_FOR]
        for b in rng.sample(movable, min(3, len(movable))):
            b.fate = "cancelled"
        movable = [b for b in movable if b.fate == "confirmed" and b.kind is not AppointmentType.ONLINE]
        if movable:
            rng.choice(movable).fate = "rescheduled"
        early = [b for b in ahead if b.slot.start <= self.moment - timedelta(minutes=40)]
        for b in rng.sample(early, min(2, len(early))):
            b.fate = "no_show"

    def book(self, b: Booking) -> None:
        """Make the appointment, then schedule what happens to it next."""
        actor = {AppointmentType.ONLINE: SYSTEM, AppointmentType.KIOSK: KIOSK}.get(b.kind, self.reception)
        appointment = self.act(
            booking.book,
            actor=actor,
            patient_id=self.patients[b.patient].id,
            clinician_id=self.doctors[b.doctor.username].id,
            starts_at=b.slot.start,
            kind=b.kind,
            reason=b.visit.reason,
        )
        b.id = appointment.id
        self.visits[b.id] = b.visit
        rng = self.rng
        decided = b.made_at + timedelta(hours=rng.randint(2, 20))
        if decided >= self.at(0, 8):
            decided = b.made_at + timedelta(minutes=15)
        if b.fate == "rejected":
            self.later(
                decided,
                lambda: self.act(
                    booking.reject,
                    actor=self.actors[b.doctor.username],
                    appointment_id=b.id,
                    reason="Please see a general physician first; they will refer you if needed.",
                ),
            )
        elif b.kind is AppointmentType.ONLINE and b.fate != "requested":
            self.later(decided, lambda: self.act(booking.accept, actor=self.reception, appointment_id=b.id))
        change = max(decided, b.made_at + timedelta(hours=rng.randint(3, 48)))
        change = max(min(change, self.at(-1, 20)), decided + timedelta(minutes=5))
        if b.fate == "cancelled":
            reason = rng.choice(("Patient called: travelling", "Patient feels better", "Clash with work"))
            self.later(
                change,
                lambda: self.act(booking.cancel, actor=self.reception, appointment_id=b.id, reason=reason),
            )
        elif b.fate == "rescheduled":
            self.later(change, lambda: self.reschedule(b))
        elif b.fate == "no_show":
            self.later(b.slot.start + timedelta(minutes=30), lambda: self.no_show(b))
        elif b.fate == "confirmed" and b.kind is not AppointmentType.TELEHEALTH:
            arrival = max(b.slot.start - timedelta(minutes=rng.randint(-5, 25)), self.at(0, 8, 30))
            self.later(arrival, lambda: self.check_in(b))

    def reschedule(self, b: Booking) -> None:
        """The patient asks for another day: the same time a few days later, or the first free slot."""
        doctor_id = self.doctors[b.doctor.username].id
        with self.store.reading() as session:
            free = availability.find_free_slots(
                session,
                first_day=self.day + timedelta(days=2),
                last_day=self.day + timedelta(days=9),
                clinician_ids=[doctor_id],
                now=self.clock(),
            ).get(doctor_id, [])
        wanted = b.slot.start.astimezone(self.tz).time()
        same_time = [s for s in free if s.start.astimezone(self.tz).time() == wanted]
        if same_time or free:
            target = (same_time or free)[0]
            self.act(booking.reschedule, actor=self.reception, appointment_id=b.id, starts_at=target.start)

    def join_waitlist(self) -> None:
        assert self.waitlisted is not None
        self.act(
            booking.join_waitlist,
            actor=self.reception,
            patient_id=self.patients[self.waitlisted].id,
            clinician_id=self.doctors[WAITLISTED_FOR].id,
            earliest=self.day,
            latest=self.day + timedelta(days=7),
        )

    # -- the demo day's morning ------------------------------------------------------------

    def check_in(self, b: Booking) -> None:
        pregnant = b.visit.reason == "Antenatal check-up"
        self.act(queue.check_in, actor=KIOSK, appointment_id=b.id, pregnant=pregnant)
        self.waiting[b.doctor.username] = self.waiting.get(b.doctor.username, 0) + 1

    def no_show(self, b: Booking) -> None:
        self.act(
            booking.transition,
            actor=self.reception,
            appointment_id=b.id,
            to=AppointmentStatus.NO_SHOW,
            note="Did not arrive",
        )

    def plan_walk_ins(self) -> None:
        """Who walks in without an appointment this morning, when, for whom and how urgently."""
        working = {p.username for p in self.working}
        taken = {b.patient for b in self.bookings} | {self.waitlisted}
        free = [i for i, p in enumerate(self.patients) if i not in taken and not p.newcomer]
        newcomers = iter([i for i, p in enumerate(self.patients) if p.newcomer])
        gps = [u for u in ("priya.raman", "arjun.mehta") if u in working]
        paeds = next((u for u in ("kavita.iyer", "rahul.desai") if u in working), None)
        heart = next((u for u in ("suresh.reddy", "vikram.nair") if u in working), None)
        turns = itertools.count()

        def age(p: PatientPlan) -> int:
            return age_on(p.birth_date, self.day)

        def pick(test: Callable[[PatientPlan], bool]) -> int | None:
            found = next((i for i in free if test(self.patients[i])), None)
            if found is not None:
                free.remove(found)
            return found

        def adult(p: PatientPlan) -> bool:
            return 18 <= age(p) < 75

        def walk_in(
            hh: int,
            mm: int,
            who: int | None,
            doctor: str | None,
            visit: Visit,
            urgency: Urgency = Urgency.ROUTINE,
            kind: AppointmentType = AppointmentType.WALK_IN,
            pregnant: bool = False,
        ) -> None:
            if doctor == "gp":  # the two GPs take turns
                doctor = gps[next(turns) % len(gps)] if gps else None
            if who is not None and doctor is not None:
                w = WalkIn(self.at(0, hh, mm), who, doctor, kind, urgency, visit, pregnant)
                self.later(w.at, lambda: self.walk_in(w))

        fever, pressure, back = GENERAL.visits[0], GENERAL.visits[2], GENERAL.visits[3]
        walk_in(9, 5, next(newcomers, None), "gp", fever)
        walk_in(9, 35, pick(adult), "gp", back)
        walk_in(9, 50, pick(adult), "gp", fever)
        chest = replace(CARDIOLOGY.visits[0], reason="Sudden chest pain")
        man = pick(lambda p: age(p) >= 45 and p.sex == "male")
        walk_in(10, 2, man, heart, chest, Urgency.EMERGENCY, AppointmentType.EMERGENCY)
        walk_in(10, 8, pick(adult), "gp", pressure)
        high_fever = replace(PAEDIATRICS.visits[1], reason="High fever since last night")
        walk_in(10, 14, pick(lambda p: age(p) <= 5), paeds, high_fever, Urgency.URGENT)
        walk_in(10, 16, pick(adult), "gp", fever)
        giddy = replace(pressure, reason="Giddiness since morning")
        walk_in(10, 20, pick(lambda p: age(p) >= 75), "gp", giddy, Urgency.SOON)
        walk_in(10, 22, next(newcomers, None), "gp", back)
        woman = pick(lambda p: p.sex == "female" and 21 <= age(p) <= 38)
        walk_in(10, 25, woman, "gp", fever, pregnant=True)
        walk_in(10, 27, pick(lambda p: 6 <= age(p) <= 14), paeds, PAEDIATRICS.visits[3])

    def walk_in(self, w: WalkIn) -> None:
        plan = self.patients[w.patient]
        if plan.newcomer:
            self.register(w.patient, actor=KIOSK)
        actor = KIOSK if w.kind is AppointmentType.WALK_IN else self.reception
        with self.store.unit_of_work(actor=actor) as uow:
            appointment = booking.book(
                uow,
                actor=actor,
                patient_id=plan.id,
                clinician_id=self.doctors[w.doctor].id,
                kind=w.kind,
                urgency=w.urgency,
                reason=w.visit.reason,
            )
            queue.check_in(uow, actor=actor, appointment_id=appointment.id, pregnant=w.pregnant)
        self.visits[appointment.id] = w.visit
        self.waiting[w.doctor] = self.waiting.get(w.doctor, 0) + 1

    def doctors_work(self, minute: datetime) -> None:
        for plan in self.working:
            busy = self.busy.get(plan.username)
            if busy is not None and minute >= busy[0]:
                self.finish(plan, busy[1])
                del self.busy[plan.username]
            if (
                plan.username not in self.busy
                and self.waiting.get(plan.username)
                and self.at_work(plan, minute)
            ):
                self.call_next(plan, minute)

    def at_work(self, plan: DoctorPlan, minute: datetime) -> bool:
        local = minute.astimezone(self.tz).time()
        tea_start, tea_end = plan.specialty.tea_break
        in_hours = any(start <= local < end for start, end in self.week(plan)[self.day.weekday()])
        return in_hours and not tea_start <= local < tea_end

    def call_next(self, plan: DoctorPlan, minute: datetime) -> None:
        actor, doctor_id = self.actors[plan.username], self.doctors[plan.username].id
        token = self.act(queue.call_next, actor=actor, clinician_id=doctor_id)
        if token is None:
            self.waiting[plan.username] = 0
            return
        self.waiting[plan.username] -= 1
        if not self.skipped and minute >= self.at(0, 9, 40) and token.urgency == Urgency.ROUTINE.value:
            # Called, but gone to the pharmacy: set aside, and back in the queue a few minutes later.
            self.skipped = True
            self.act(queue.skip, actor=actor, token_id=token.id)
            self.later(minute + timedelta(minutes=7), lambda: self.requeue(plan, token.id))
            return
        consultation = self.act(consultations.start, actor=actor, clinician_id=doctor_id, token_id=token.id)
        self.busy[plan.username] = (
            minute + timedelta(minutes=self.rng.randint(*plan.specialty.visit_minutes)),
            consultation.id,
        )

    def requeue(self, plan: DoctorPlan, token_id: str) -> None:
        self.act(queue.requeue, actor=self.nurse, token_id=token_id)
        self.waiting[plan.username] = self.waiting.get(plan.username, 0) + 1

    def finish(self, plan: DoctorPlan, consultation_id: str) -> None:
        """Notes, a prescription when the visit calls for one (and no allergy stands against it), done."""
        actor = self.actors[plan.username]
        with self.store.unit_of_work(actor=actor) as uow:
            consultation = uow.session.get(Consultation, consultation_id)
            assert consultation is not None
            visit = self.visits.get(consultation.appointment_id or "", plan.specialty.visits[0])
            consultations.save_notes(
                uow,
                actor=actor,
                consultation_id=consultation_id,
                complaint=visit.complaint,
                notes=visit.notes,
                diagnosis=visit.diagnosis,
            )
            patient = uow.session.get(Patient, consultation.patient_id)
            allergies = (patient.allergies if patient else "").lower()
            allergic = bool(allergies) and any(
                m["name"].split()[0].lower() in allergies for m in visit.medicines
            )
            if visit.medicines and visit.diagnosis and not allergic:
                rx = prescriptions.draft(
                    uow,
                    actor=actor,
                    patient_id=consultation.patient_id,
                    clinician_id=consultation.clinician_id,
                    consultation_id=consultation.id,
                    diagnosis=visit.diagnosis,
                    medicines=list(visit.medicines),
                    advice="Come back earlier if the symptoms get worse.",
                    follow_up_on=self.day + timedelta(days=14) if plan.specialty is CARDIOLOGY else None,
                )
                uow.flush()
                prescriptions.issue(uow, actor=actor, prescription_id=rx.id)
            consultations.complete(uow, actor=actor, consultation_id=consultation_id)
        if plan.specialty is CARDIOLOGY and not self.followed_up:
            self.followed_up = True
            # Nothing free on one of those days: the series is all or nothing, so none is booked.
            with contextlib.suppress(BookingConflict):
                self.act(
                    booking.book_follow_ups,
                    actor=actor,
                    patient_id=consultation.patient_id,
                    clinician_id=consultation.clinician_id,
                    first_start=self.at(14, 11),
                    every_weeks=2,
                    count=2,
                    reason="Review after tests",
                )
