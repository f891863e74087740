"""The English words for every reason code (desktop.domain.reasons): what the `clinic` command
prints, and the source text the app's translations start from. One place: a new code gets its
English here, and tests/test_reasons.py fails for a code without it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from desktop.domain.reasons import TEXT, Reason

Render = Callable[[Mapping[str, Any]], str]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def when(at: datetime) -> str:
    """How staff read a time: `Mon 3 Mar 10:30` (the value is already in the clinic's zone)."""
    return f"{at:%a} {at.day} {at:%b %H:%M}"


def day(d: date) -> str:
    return f"{d:%a %d %b %Y}"


APPOINTMENT_STATUS = {
    "requested": "requested",
    "confirmed": "confirmed",
    "rejected": "rejected",
    "checked_in": "checked in",
    "in_consultation": "in consultation",
    "completed": "completed",
    "cancelled": "cancelled",
    "no_show": "marked as no-show",
    "rescheduled": "rescheduled",
    "conflict": "in conflict",
}
ENTITY = {
    "patient": "patient",
    "appointment": "appointment",
    "clinician": "staff member",
    "queue_token": "queue token",
    "consultation": "consultation",
    "prescription": "prescription",
    "waitlist_entry": "waiting-list entry",
    "availability": "availability rule",
    "sync_conflict": "conflict",
}


def _words(name: str) -> str:
    return name.replace("_", " ")


def _points(v: Mapping[str, Any], text: str) -> str:
    return f"{text} (+{v['points']})"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _parts(reasons: Iterable[Reason]) -> str:
    return ", ".join(english(r) for r in reasons)


def _next_free(v: Mapping[str, Any]) -> str:
    return f" Next free: {when(v['next_free'])}." if v.get("next_free") else ""


CATALOGUE: dict[str, Render] = {
    TEXT: lambda v: v["text"],
    # the queue (desktop.domain.queue, services.queue.view)
    "queue.position": lambda v: (
        f"{v['token']} is {ordinal(v['position'])}: {_parts(v['parts'])} = {v['score']} points"
    ),
    "queue.waited": lambda v: _points(v, f"waited {v['minutes']} min"),
    "queue.urgency": lambda v: _points(v, _words(v["urgency"])),
    "queue.aged": lambda v: _points(v, f"aged {v['age']}"),
    "queue.child": lambda v: _points(v, f"child aged {v['age']}"),
    "queue.pregnant": lambda v: _points(v, "pregnant"),
    # booking (services.booking)
    "booking.slot_full": lambda v: f"{v['doctor']} is fully booked at {when(v['at'])}." + _next_free(v),
    "booking.no_slot": lambda v: f"{v['doctor']} has no bookable slot at {when(v['at'])}." + _next_free(v),
    "booking.patient_busy": lambda v: (
        f"{v['patient']} already has an appointment at {when(v['at'])} ({v['appointment']})."
    ),
    "booking.seat_taken": lambda v: (
        f"Someone else just booked {v['doctor']} at that time. Please pick another slot."
    ),
    "booking.follow_up_impossible": lambda v: (
        f"Follow-up {v['n']} cannot be booked: nothing free on {day(v['day'])}."
    ),
    "booking.follow_up_moved": lambda v: f"Follow-up {v['n']} moved to {when(v['at'])}",
    "booking.not_bookable": lambda v: f"{v['doctor']} does not take appointments.",
    "waitlist.already_waiting": lambda v: f"{v['patient']} is already waiting for {v['doctor']}.",
    # errors of the domain and the services
    "not_found": lambda v: f"No such {ENTITY.get(v['entity'], v['entity'])}.",
    "appointment.unknown_status": lambda v: f"Unknown appointment status: {v['problem']}",
    "appointment.bad_transition": lambda v: (
        f"An appointment that is {APPOINTMENT_STATUS[v['current']]} "
        f"cannot be {APPOINTMENT_STATUS[v['target']]}."
    ),
    "token.bad_transition": lambda v: (
        f"A token that is {_words(v['current'])} cannot become {_words(v['target'])}."
    ),
    "queue.already_queued": lambda v: f"{v['patient']} is already in the queue as {v['token']}.",
    "queue.not_called": lambda v: f"{v['token']} is not being called, so it cannot be called again.",
    "availability.not_a_doctor": lambda v: f"{v['name']} is not a doctor.",
    "availability.hours_overlap": lambda v: (
        f"These hours overlap {v['start']:%H:%M}–{v['end']:%H:%M} on the same day."
    ),
    "agenda.no_such_doctor": lambda v: f"No doctor has the username '{v['username']}'.",
    "clinic.unknown_zone": lambda v: f"Unknown time zone '{v['zone']}'.",
    "clinic.unknown_region": lambda v: f"Unknown country code '{v['region']}'.",
    "staff.unknown_role": lambda v: f"Unknown staff role '{v['role']}'.",
    "staff.username_taken": lambda v: f"The username '{v['username']}' is taken.",
    "patient.not_editable": lambda v: f"'{v['name']}' cannot be edited here.",
    "chat.too_long": lambda v: f"Messages are limited to {v['most']} characters.",
    "rx.too_many_medicines": lambda v: f"A prescription holds at most {v['most']} medicines.",
    "rx.medicine_missing": lambda v: f"Medicine {v['n']}: the {v['name']} is missing.",
    "rx.unknown_route": lambda v: f"Medicine {v['n']}: unknown route '{v['route']}'.",
    # sync (desktop.sync: the report's errors, the worker's status)
    "sync.not_sent.too_large": lambda v: (
        f"{_words(v['entity'])} {v['id']} not sent: This change is too large to send ({v['kib']} KiB)."
    ),
    "sync.not_sent.invalid": lambda v: (
        f"{_words(v['entity'])} {v['id']} not sent: This change cannot be sent: {v['problem']}."
    ),
    "sync.refused": lambda v: (
        f"{_words(v['entity'])} {v['id']} refused: {v['why'] or 'no reason given'}"
        + (f" ({v['field']})" if v.get("field") else "")
    ),
    "sync.clock_off": lambda v: (
        f"This computer's clock is about {v['minutes']} minutes "
        f"{'behind' if v['behind'] else 'ahead of'} the server's. "
        "ClinicDesk keeps working, but ask an administrator to correct the clock."
    ),
    "sync.timeout": lambda v: f"The server at {v['url']} did not answer in time.",
    "sync.tls_failed": lambda v: (
        f"The secure connection to {v['url']} failed: check the server address and its certificate."
    ),
    "sync.unreachable": lambda v: f"Cannot reach the server at {v['url']}.",
    # enrolment (desktop.sync.enrolment)
    "enrol.other_clinic": lambda v: (
        f"This data dir ({v['data_dir']}) already holds the data of another clinic "
        f"({_quoted(v['clinics'])}). "
        "A device belongs to one clinic: enrol with a new, empty --data-dir."
        + (
            f" The code has been used: ask the administrator to revoke device {v['spent_device']}"
            " and for a new code."
            if v.get("spent_device")
            else ""
        )
    ),
    "enrol.kind_may_not_keep": lambda v: (
        f"This data dir ({v['data_dir']}) was a {v['was']} and holds records a {v['kind']} "
        f"may not keep ({', '.join(v['kept'])}). Enrol the {v['kind']} with a new, empty --data-dir."
    ),
    "sync.not_enrolled": lambda v: "This device is not enrolled with a server.",
    "sync.failed": lambda v: f"Sync failed: {v['error']}",
    "sync.unanswered_change": lambda v: (
        f"The server did not answer change {v['op_id']}; it will be sent again."
    ),
    "sync.feed_stuck": lambda v: "The server's list of changes did not move forward; try again later.",
    "sync.unreadable_row": lambda v: (
        f"The server sent a {_words(v['entity'])} this app cannot read ({v['problem']}); "
        "sync stops here until that is fixed or the app is updated."
    ),
    # fixed sentences (typed errors a screen shows: services, domain checks, sync client)
    "availability.bad_weekday": lambda v: "The weekday must be 0 (Monday) to 6 (Sunday).",
    "availability.bad_daily_cap": lambda v: "The daily cap must be at least 1.",
    "availability.valid_to_before_from": lambda v: "'Valid to' is before 'valid from'.",
    "availability.break_ends_first": lambda v: "The break must end after it starts.",
    "availability.leave_ends_first": lambda v: "The leave must end on or after its first day.",
    "availability.hours_end_first": lambda v: "The end of working hours must be after the start.",
    "availability.bad_slot_length": lambda v: "Slot length must be between 5 and 240 minutes.",
    "availability.bad_slot_capacity": lambda v: "Patients per slot must be between 1 and 50.",
    "availability.bad_buffer": lambda v: "The buffer must be between 0 and 120 minutes.",
    "booking.time_missing": lambda v: "Choose a time for the appointment.",
    "booking.time_without_zone": lambda v: "The time must include its time zone.",
    "booking.kiosk_kinds_only": lambda v: "The kiosk books kiosk and walk-in visits only.",
    "booking.reason_too_long": lambda v: "Keep the reason under 300 characters.",
    "booking.rejection_needs_reason": lambda v: "Tell the patient why the request is rejected.",
    "booking.bad_repeat_weeks": lambda v: "Repeat every 1 to 52 weeks.",
    "booking.bad_follow_up_count": lambda v: "Book between 1 and 26 follow-ups at once.",
    "waitlist.bad_day_range": lambda v: "The last acceptable day is before the first.",
    "waitlist.no_open_offer": lambda v: "There is no open offer for this patient.",
    "waitlist.offer_expired": lambda v: "The offer has expired; the patient stays on the waiting list.",
    "clinic.not_set_up": lambda v: "This device is not set up for a clinic yet. Run `clinic init`.",
    "clinic.name_missing": lambda v: "The clinic needs a name.",
    "clinic.bad_notice": lambda v: "Minimum notice must be between 0 and 7 days.",
    "staff.short_password": lambda v: "Passwords need at least 8 characters.",
    "staff.name_missing": lambda v: "Enter the staff member's name.",
    "staff.bad_username": lambda v: "Usernames use letters, digits, dots and underscores.",
    "consultation.bad_mode": lambda v: "Mode is in_person or video.",
    "consultation.notes_closed": lambda v: "This consultation is closed; its notes can no longer be changed.",
    "diagnosis.too_long": lambda v: "Keep the diagnosis under 300 characters.",
    "consultation.already_closed": lambda v: "This consultation is already closed.",
    "chat.bad_sender": lambda v: "The sender is the doctor or the patient.",
    "chat.doctor_only": lambda v: "Only the doctor can send as the doctor.",
    "chat.empty": lambda v: "The message is empty.",
    "patient.name_missing": lambda v: "Please enter the patient's full name.",
    "patient.name_too_long": lambda v: "The name is too long (120 characters at most).",
    "patient.name_without_letters": lambda v: "The name must contain letters.",
    "patient.unreadable_phone": lambda v: "That phone number could not be read.",
    "patient.bad_phone": lambda v: "That phone number is not valid.",
    "patient.born_in_future": lambda v: "The date of birth cannot be in the future.",
    "patient.bad_birth_date": lambda v: "Please check the date of birth.",
    "patient.birth_date_missing": lambda v: "Enter the date of birth.",
    "patient.bad_sex": lambda v: "Choose female, male, other or unknown.",
    "patient.bad_email": lambda v: "That e-mail address is not valid.",
    "patient.probable_duplicate": lambda v: (
        "This patient may already be registered. Please check the existing record."
    ),
    "patient.merge_same": lambda v: "Choose two different patients to merge.",
    "patient.already_merged": lambda v: "That record was already merged.",
    "patient.merged_elsewhere": lambda v: (
        "That record was itself merged into another one; merge into the current record."
    ),
    "rx.diagnosis_missing": lambda v: "Enter the diagnosis.",
    "rx.advice_too_long": lambda v: "The advice is too long (4000 characters at most).",
    "rx.follow_up_past": lambda v: "The follow-up date is in the past.",
    "rx.issued_immutable": lambda v: "An issued prescription cannot be edited. Issue a correction instead.",
    "rx.already_issued": lambda v: "This prescription has already been issued.",
    "rx.not_current": lambda v: "Only the current issued prescription can be corrected.",
    "rx.correction_needs_reason": lambda v: "Say why the prescription is corrected.",
    "rx.no_medicines": lambda v: "Add at least one medicine.",
    "rx.bad_medicine": lambda v: "Each medicine must be a set of fields.",
    "enrol.bad_url": lambda v: "The server address must start with http:// or https:// and name a host.",
    "sync.no_credentials": lambda v: "This device has no server credentials. Enrol it with `clinic enroll`.",
    "sync.unreadable_conflicts": lambda v: "The server sent an unreadable list of conflicts.",
    "sync.credentials_refused": lambda v: (
        "The server no longer accepts this device's credentials: re-enrol it or sign in again."
    ),
    "sync.forbidden": lambda v: "The server does not allow this device or user to do that.",
    "sync.upgrade_required": lambda v: "The server needs a newer ClinicDesk: update this app.",
    "sync.request_refused": lambda v: f"The server refused the request ({v['status']}).",
    "sync.server_problem": lambda v: f"The server had a problem ({v['status']}); try again later.",
    "sync.no_keyring": lambda v: (
        "No keyring is available on this machine to keep the device's server token. "
        "Install and unlock the OS keyring (Secret Service or KWallet on Linux), "
        "or allow the data-dir file fallback."
    ),
    "sync.keyring_read": lambda v: f"The keyring refused to read the {v['name']}: {v['problem']}",
    "sync.keyring_store": lambda v: f"The keyring refused to store the {v['name']}: {v['problem']}",
    "sync.keyring_forget": lambda v: f"The keyring refused to forget the {v['name']}: {v['problem']}",
    # raised by code that is on main, not yet on this branch (see docs/reasons.md)
    "staff.managed_on_server": lambda v: (
        "Staff accounts are managed on the clinic's server: ask its administrator."
    ),
    "enrol.invalid_url": lambda v: f"The server address {v['url']!r} is not a valid URL ({v['problem']}).",
    "sync.live_unavailable": lambda v: f"Cannot open the live channel of {v['url']} ({v['problem']}).",
    "sync.no_set_aside": lambda v: (
        "No refused change with this id: it may have been retried or discarded already."
    ),
    "sync.not_clinicdesk": lambda v: (
        f"The server at {v['server']} is not a ClinicDesk sync server (it answered {v['answer']!r}): "
        "check the address and port."
    ),
    "sync.unreadable_answer": lambda v: (
        f"The server sent an unreadable answer: {v['problem']}"
        if v.get("problem")
        else "The server sent an unreadable answer."
    ),
}


def english(reason: Reason) -> str:
    """The reason in English; a code without words here is shown as itself, never an error."""
    render = CATALOGUE.get(reason.code)
    return render(reason.values) if render else reason.code
