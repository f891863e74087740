"""Reasons (desktop.domain.reasons) in the user's language, through Qt's translations.

Each code has one template per sentence, written out as `self.tr("…")` in `ReasonWords` so that
`lupdate` finds it (context `ReasonWords`; numerus forms through `self.tr(text, "", n)`, which
PySide6's lupdate recognises, unlike `QCoreApplication.translate` with a variable count).
Placeholders `%1`… are filled after translation, so a translator may reorder them; numbers,
days and months come from the current `QLocale` (set by `Translations.set_language`).

The English templates say exactly what `desktop.domain.english` says (tests/test_ui_reasons.py
renders every code both ways): that catalogue stays the CLI's words and the translators' source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any

from PySide6.QtCore import QLocale, QObject

from desktop.domain.reasons import TEXT, Reason

Words = Callable[[Mapping[str, Any]], str]
_PLACEHOLDER = re.compile(r"%(\d)")


def fill(template: str, *args: object) -> str:
    """Qt's `arg()` in one pass: `%1`… replaced by the args, a value's own `%2` left alone."""
    return _PLACEHOLDER.sub(
        lambda m: str(args[int(m[1]) - 1]) if 0 < int(m[1]) <= len(args) else m[0], template
    )


def number(n: int) -> str:
    locale = QLocale()
    locale.setNumberOptions(QLocale.NumberOption.OmitGroupSeparator)  # "4000", as both languages write it
    return locale.toString(int(n))


def _words(name: str) -> str:
    return name.replace("_", " ")


class ReasonWords(QObject):
    """Renders any `Reason` in the current language; codes without words show as themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.templates: dict[str, Words] = self._templates()

    def render(self, reason: Reason) -> str:
        words = self.templates.get(reason.code)
        return words(reason.values) if words else reason.code

    # -- pieces -------------------------------------------------------------------------------

    def ordinal(self, n: int) -> str:
        if 10 <= n % 100 <= 20:
            suffix = self.tr("th", "ordinal suffix, as in 4th, 11th (Spanish: .º)")
        else:
            suffix = {
                1: self.tr("st", "ordinal suffix, as in 1st, 21st (Spanish: .º)"),
                2: self.tr("nd", "ordinal suffix, as in 2nd, 22nd (Spanish: .º)"),
                3: self.tr("rd", "ordinal suffix, as in 3rd, 23rd (Spanish: .º)"),
            }.get(n % 10) or self.tr("th", "ordinal suffix, as in 4th, 11th (Spanish: .º)")
        return number(n) + suffix

    def when(self, at: datetime) -> str:
        """A day and time as staff read it; the value is already in the clinic's zone."""
        locale = QLocale()
        short = QLocale.FormatType.ShortFormat
        return fill(
            self.tr("%1 %2 %3 %4", "a day and time: weekday, day, month, hh:mm (Mon 2 Mar 09:00)"),
            locale.dayName(at.isoweekday(), short),
            at.day,
            locale.monthName(at.month, short),
            f"{at:%H:%M}",
        )

    def day(self, d: date) -> str:
        locale = QLocale()
        short = QLocale.FormatType.ShortFormat
        return fill(
            # %2 is the day with two digits, %5 without (Mon 03 Mar 2026)
            self.tr("%1 %2 %3 %4", "a day: weekday, day, month, year"),
            locale.dayName(d.isoweekday(), short),
            f"{d.day:02d}",
            locale.monthName(d.month, short),
            d.year,
            d.day,
        )

    def clock(self, t: time) -> str:
        return f"{t:%H:%M}"

    def quoted(self, names: Iterable[str]) -> str:
        return ", ".join(fill(self.tr("'%1'", "a quoted name"), name) for name in names)

    def points(self, v: Mapping[str, Any], text: str) -> str:
        return fill(self.tr("%1 (+%2)", "a part of a queue score and its points"), text, number(v["points"]))

    def parts(self, reasons: Iterable[Reason]) -> str:
        return ", ".join(self.render(r) for r in reasons)

    def urgency(self, urgency: str) -> str:
        return {
            "routine": self.tr("routine", "urgency"),
            "soon": self.tr("soon", "urgency"),
            "urgent": self.tr("urgent", "urgency"),
            "emergency": self.tr("emergency", "urgency"),
        }.get(urgency) or _words(urgency)

    def appointment_status(self, status: str) -> str:
        return {
            "requested": self.tr("requested", "appointment status"),
            "confirmed": self.tr("confirmed", "appointment status"),
            "rejected": self.tr("rejected", "appointment status"),
            "checked_in": self.tr("checked in", "appointment status"),
            "in_consultation": self.tr("in consultation", "appointment status"),
            "completed": self.tr("completed", "appointment status"),
            "cancelled": self.tr("cancelled", "appointment status"),
            "no_show": self.tr("marked as no-show", "appointment status"),
            "rescheduled": self.tr("rescheduled", "appointment status"),
            "conflict": self.tr("in conflict", "appointment status"),
        }.get(status) or _words(status)

    def token_status(self, status: str) -> str:
        return {
            "waiting": self.tr("waiting", "queue token status"),
            "called": self.tr("called", "queue token status"),
            "in_consultation": self.tr("in consultation", "queue token status"),
            "completed": self.tr("completed", "queue token status"),
            "skipped": self.tr("skipped", "queue token status"),
            "no_show": self.tr("no show", "queue token status"),
            "cancelled": self.tr("cancelled", "queue token status"),
        }.get(status) or _words(status)

    def entity(self, entity: str) -> str:
        """An entity's wire name as a noun (sync messages)."""
        return {
            "clinic": self.tr("clinic", "entity"),
            "clinician": self.tr("clinician", "entity"),
            "availability": self.tr("availability", "entity"),
            "patient": self.tr("patient", "entity"),
            "appointment": self.tr("appointment", "entity"),
            "waitlist_entry": self.tr("waitlist entry", "entity"),
            "queue_token": self.tr("queue token", "entity"),
            "consultation": self.tr("consultation", "entity"),
            "chat_message": self.tr("chat message", "entity"),
            "prescription": self.tr("prescription", "entity"),
            "reminder": self.tr("reminder", "entity"),
            "sync_conflict": self.tr("sync conflict", "entity"),
        }.get(entity) or _words(entity)

    def no_such(self, entity: str) -> str:
        return {
            "patient": self.tr("No such patient."),
            "appointment": self.tr("No such appointment."),
            "clinician": self.tr("No such staff member."),
            "queue_token": self.tr("No such queue token."),
            "consultation": self.tr("No such consultation."),
            "prescription": self.tr("No such prescription."),
            "waitlist_entry": self.tr("No such waiting-list entry."),
            "availability": self.tr("No such availability rule."),
            "sync_conflict": self.tr("No such conflict."),
        }.get(entity) or fill(self.tr("No such %1."), entity)

    def medicine_field(self, name: str) -> str:
        # a medicine's field, with its article where the language needs one (Spanish "la dosis")
        return {
            "name": self.tr("name", "a medicine's field"),
            "strength": self.tr("strength", "a medicine's field"),
            "dose": self.tr("dose", "a medicine's field"),
            "route": self.tr("route", "a medicine's field"),
            "frequency": self.tr("frequency", "a medicine's field"),
            "duration": self.tr("duration", "a medicine's field"),
        }.get(name) or name

    def device_kind(self, kind: str) -> str:
        return {
            "desk": self.tr("desk", "device kind"),
            "kiosk": self.tr("kiosk", "device kind"),
            "board": self.tr("board", "device kind"),
        }.get(kind) or kind

    def secret(self, name: str) -> str:
        """What the keyring keeps for a data dir (desktop.sync.credentials)."""
        return {
            "device-token": self.tr("device-token", "a secret the keyring keeps"),
            "user-session": self.tr("user-session", "a secret the keyring keeps"),
        }.get(name) or name

    def next_free(self, v: Mapping[str, Any]) -> str:
        if not v.get("next_free"):
            return ""
        return fill(
            self.tr(" Next free: %1.", "after a full slot; note the leading space"), self.when(v["next_free"])
        )

    # -- the codes (docs/reasons.md) ------------------------------------------------------------

    def _templates(self) -> dict[str, Words]:
        return {
            TEXT: lambda v: v["text"],
            **self._queue(),
            **self._booking(),
            **self._records(),
            **self._sync(),
            **self._fixed(),
        }

    def _queue(self) -> dict[str, Words]:
        return {
            "queue.position": lambda v: fill(
                self.tr("%1 is %2: %3 = %n points", "", v["score"]),
                v["token"],
                self.ordinal(v["position"]),
                self.parts(v["parts"]),
            ),
            "queue.waited": lambda v: self.points(v, self.tr("waited %n min", "", v["minutes"])),
            "queue.urgency": lambda v: self.points(v, self.urgency(v["urgency"])),
            "queue.aged": lambda v: self.points(v, self.tr("aged %n", "", v["age"])),
            "queue.child": lambda v: self.points(v, self.tr("child aged %n", "", v["age"])),
            "queue.pregnant": lambda v: self.points(v, self.tr("pregnant")),
            "queue.already_queued": lambda v: fill(
                self.tr("%1 is already in the queue as %2."), v["patient"], v["token"]
            ),
            "queue.not_called": lambda v: fill(
                self.tr("%1 is not being called, so it cannot be called again."), v["token"]
            ),
            "token.bad_transition": lambda v: fill(
                self.tr("A token that is %1 cannot become %2."),
                self.token_status(v["current"]),
                self.token_status(v["target"]),
            ),
        }

    def _booking(self) -> dict[str, Words]:
        return {
            "booking.slot_full": lambda v: (
                fill(self.tr("%1 is fully booked at %2."), v["doctor"], self.when(v["at"]))
                + self.next_free(v)
            ),
            "booking.no_slot": lambda v: (
                fill(self.tr("%1 has no bookable slot at %2."), v["doctor"], self.when(v["at"]))
                + self.next_free(v)
            ),
            "booking.patient_busy": lambda v: fill(
                self.tr("%1 already has an appointment at %2 (%3)."),
                v["patient"],
                self.when(v["at"]),
                v["appointment"],
            ),
            "booking.seat_taken": lambda v: fill(
                self.tr("Someone else just booked %1 at that time. Please pick another slot."), v["doctor"]
            ),
            "booking.follow_up_impossible": lambda v: fill(
                self.tr("Follow-up %1 cannot be booked: nothing free on %2."),
                number(v["n"]),
                self.day(v["day"]),
            ),
            "booking.follow_up_moved": lambda v: fill(
                self.tr("Follow-up %1 moved to %2"), number(v["n"]), self.when(v["at"])
            ),
            "booking.not_bookable": lambda v: fill(self.tr("%1 does not take appointments."), v["doctor"]),
            "waitlist.already_waiting": lambda v: fill(
                self.tr("%1 is already waiting for %2."), v["patient"], v["doctor"]
            ),
            "appointment.unknown_status": lambda v: fill(
                self.tr("Unknown appointment status: %1"), v["problem"]
            ),
            "appointment.bad_transition": lambda v: fill(
                self.tr("An appointment that is %1 cannot be %2."),
                self.appointment_status(v["current"]),
                self.appointment_status(v["target"]),
            ),
            "availability.not_a_doctor": lambda v: fill(self.tr("%1 is not a doctor."), v["name"]),
            "availability.hours_overlap": lambda v: fill(
                self.tr("These hours overlap %1–%2 on the same day."),
                self.clock(v["start"]),
                self.clock(v["end"]),
            ),
            "agenda.no_such_doctor": lambda v: fill(
                self.tr("No doctor has the username '%1'."), v["username"]
            ),
        }

    def _records(self) -> dict[str, Words]:
        return {
            "not_found": lambda v: self.no_such(v["entity"]),
            "clinic.unknown_zone": lambda v: fill(self.tr("Unknown time zone '%1'."), v["zone"]),
            "clinic.unknown_region": lambda v: fill(self.tr("Unknown country code '%1'."), v["region"]),
            "staff.unknown_role": lambda v: fill(self.tr("Unknown staff role '%1'."), v["role"]),
            "staff.username_taken": lambda v: fill(self.tr("The username '%1' is taken."), v["username"]),
            "patient.not_editable": lambda v: fill(self.tr("'%1' cannot be edited here."), v["name"]),
            "chat.too_long": lambda v: fill(
                self.tr("Messages are limited to %1 characters."), number(v["most"])
            ),
            "rx.too_many_medicines": lambda v: fill(
                self.tr("A prescription holds at most %1 medicines."), number(v["most"])
            ),
            "rx.medicine_missing": lambda v: fill(
                self.tr("Medicine %1: the %2 is missing."), number(v["n"]), self.medicine_field(v["name"])
            ),
            "rx.unknown_route": lambda v: fill(
                self.tr("Medicine %1: unknown route '%2'."), number(v["n"]), v["route"]
            ),
        }

    def _sync(self) -> dict[str, Words]:
        return {
            "sync.not_sent.too_large": lambda v: fill(
                self.tr("%1 %2 not sent: This change is too large to send (%3 KiB)."),
                self.entity(v["entity"]),
                v["id"],
                number(v["kib"]),
            ),
            "sync.not_sent.invalid": lambda v: fill(
                self.tr("%1 %2 not sent: This change cannot be sent: %3."),
                self.entity(v["entity"]),
                v["id"],
                v["problem"],
            ),
            "sync.refused": lambda v: (
                fill(
                    self.tr("%1 %2 refused: %3"),
                    self.entity(v["entity"]),
                    v["id"],
                    v["why"] or self.tr("no reason given"),
                )
                + (f" ({v['field']})" if v.get("field") else "")
            ),
            "sync.clock_off": lambda v: (
                self.tr(
                    "This computer's clock is about %n minutes behind the server's. "
                    "ClinicDesk keeps working, but ask an administrator to correct the clock.",
                    "",
                    v["minutes"],
                )
                if v["behind"]
                else self.tr(
                    "This computer's clock is about %n minutes ahead of the server's. "
                    "ClinicDesk keeps working, but ask an administrator to correct the clock.",
                    "",
                    v["minutes"],
                )
            ),
            "sync.timeout": lambda v: fill(self.tr("The server at %1 did not answer in time."), v["url"]),
            "sync.tls_failed": lambda v: fill(
                self.tr("The secure connection to %1 failed: check the server address and its certificate."),
                v["url"],
            ),
            "sync.unreachable": lambda v: fill(self.tr("Cannot reach the server at %1."), v["url"]),
            "enrol.other_clinic": lambda v: (
                fill(
                    self.tr(
                        "This data dir (%1) already holds the data of another clinic (%2). "
                        "A device belongs to one clinic: enrol with a new, empty --data-dir."
                    ),
                    v["data_dir"],
                    self.quoted(v["clinics"]),
                )
                + (
                    fill(
                        self.tr(
                            " The code has been used: ask the administrator to revoke device %1"
                            " and for a new code."
                        ),
                        v["spent_device"],
                    )
                    if v.get("spent_device")
                    else ""
                )
            ),
            "enrol.kind_may_not_keep": lambda v: fill(
                self.tr(
                    "This data dir (%1) was a %2 and holds records a %3 may not keep (%4). "
                    "Enrol the %3 with a new, empty --data-dir."
                ),
                v["data_dir"],
                self.device_kind(v["was"]),
                self.device_kind(v["kind"]),
                ", ".join(v["kept"]),
            ),
            "sync.not_enrolled": lambda v: self.tr("This device is not enrolled with a server."),
            "sync.failed": lambda v: fill(self.tr("Sync failed: %1"), v["error"]),
            "sync.unanswered_change": lambda v: fill(
                self.tr("The server did not answer change %1; it will be sent again."), v["op_id"]
            ),
            "sync.feed_stuck": lambda v: self.tr(
                "The server's list of changes did not move forward; try again later."
            ),
            "sync.unreadable_row": lambda v: fill(
                self.tr(
                    "The server sent a %1 this app cannot read (%2); "
                    "sync stops here until that is fixed or the app is updated."
                ),
                self.entity(v["entity"]),
                v["problem"],
            ),
            "sync.request_refused": lambda v: fill(
                self.tr("The server refused the request (%1)."), v["status"]
            ),
            "sync.server_problem": lambda v: fill(
                self.tr("The server had a problem (%1); try again later."), v["status"]
            ),
            "sync.keyring_read": lambda v: fill(
                self.tr("The keyring refused to read the %1: %2"), self.secret(v["name"]), v["problem"]
            ),
            "sync.keyring_store": lambda v: fill(
                self.tr("The keyring refused to store the %1: %2"), self.secret(v["name"]), v["problem"]
            ),
            "sync.keyring_forget": lambda v: fill(
                self.tr("The keyring refused to forget the %1: %2"), self.secret(v["name"]), v["problem"]
            ),
            "enrol.invalid_url": lambda v: fill(
                self.tr("The server address %1 is not a valid URL (%2)."), repr(v["url"]), v["problem"]
            ),
            "sync.live_unavailable": lambda v: fill(
                self.tr("Cannot open the live channel of %1 (%2)."), v["url"], v["problem"]
            ),
            "sync.not_clinicdesk": lambda v: fill(
                self.tr(
                    "The server at %1 is not a ClinicDesk sync server (it answered %2): "
                    "check the address and port."
                ),
                v["server"],
                repr(v["answer"]),
            ),
            "sync.unreadable_answer": lambda v: (
                fill(self.tr("The server sent an unreadable answer: %1"), v["problem"])
                if v.get("problem")
                else self.tr("The server sent an unreadable answer.")
            ),
        }

    def _fixed(self) -> dict[str, Words]:
        """Typed errors whose words take no values: each looked up when rendered, in the language
        of that moment."""
        return {
            code: (lambda v, code=code: self._fixed_sentences()[code]) for code in self._fixed_sentences()
        }

    def _fixed_sentences(self) -> dict[str, str]:
        return {
            "availability.bad_weekday": self.tr("The weekday must be 0 (Monday) to 6 (Sunday)."),
            "availability.bad_daily_cap": self.tr("The daily cap must be at least 1."),
            "availability.valid_to_before_from": self.tr("'Valid to' is before 'valid from'."),
            "availability.break_ends_first": self.tr("The break must end after it starts."),
            "availability.leave_ends_first": self.tr("The leave must end on or after its first day."),
            "availability.hours_end_first": self.tr("The end of working hours must be after the start."),
            "availability.bad_slot_length": self.tr("Slot length must be between 5 and 240 minutes."),
            "availability.bad_slot_capacity": self.tr("Patients per slot must be between 1 and 50."),
            "availability.bad_buffer": self.tr("The buffer must be between 0 and 120 minutes."),
            "booking.time_missing": self.tr("Choose a time for the appointment."),
            "booking.time_without_zone": self.tr("The time must include its time zone."),
            "booking.kiosk_kinds_only": self.tr("The kiosk books kiosk and walk-in visits only."),
            "booking.reason_too_long": self.tr("Keep the reason under 300 characters."),
            "booking.rejection_needs_reason": self.tr("Tell the patient why the request is rejected."),
            "booking.bad_repeat_weeks": self.tr("Repeat every 1 to 52 weeks."),
            "booking.bad_follow_up_count": self.tr("Book between 1 and 26 follow-ups at once."),
            "waitlist.bad_day_range": self.tr("The last acceptable day is before the first."),
            "waitlist.no_open_offer": self.tr("There is no open offer for this patient."),
            "waitlist.offer_expired": self.tr(
                "The offer has expired; the patient stays on the waiting list."
            ),
            "clinic.not_set_up": self.tr("This device is not set up for a clinic yet. Run `clinic init`."),
            "clinic.name_missing": self.tr("The clinic needs a name."),
            "clinic.bad_notice": self.tr("Minimum notice must be between 0 and 7 days."),
            "staff.short_password": self.tr("Passwords need at least 8 characters."),
            "staff.name_missing": self.tr("Enter the staff member's name."),
            "staff.bad_username": self.tr("Usernames use letters, digits, dots and underscores."),
            "consultation.bad_mode": self.tr("Mode is in_person or video."),
            "consultation.notes_closed": self.tr(
                "This consultation is closed; its notes can no longer be changed."
            ),
            "diagnosis.too_long": self.tr("Keep the diagnosis under 300 characters."),
            "consultation.already_closed": self.tr("This consultation is already closed."),
            "chat.bad_sender": self.tr("The sender is the doctor or the patient."),
            "chat.doctor_only": self.tr("Only the doctor can send as the doctor."),
            "chat.empty": self.tr("The message is empty."),
            "patient.name_missing": self.tr("Please enter the patient's full name."),
            "patient.name_too_long": self.tr("The name is too long (120 characters at most)."),
            "patient.name_without_letters": self.tr("The name must contain letters."),
            "patient.unreadable_phone": self.tr("That phone number could not be read."),
            "patient.bad_phone": self.tr("That phone number is not valid."),
            "patient.born_in_future": self.tr("The date of birth cannot be in the future."),
            "patient.bad_birth_date": self.tr("Please check the date of birth."),
            "patient.birth_date_missing": self.tr("Enter the date of birth."),
            "patient.bad_sex": self.tr("Choose female, male, other or unknown."),
            "patient.bad_email": self.tr("That e-mail address is not valid."),
            "patient.probable_duplicate": self.tr(
                "This patient may already be registered. Please check the existing record."
            ),
            "patient.merge_same": self.tr("Choose two different patients to merge."),
            "patient.already_merged": self.tr("That record was already merged."),
            "patient.merged_elsewhere": self.tr(
                "That record was itself merged into another one; merge into the current record."
            ),
            "rx.diagnosis_missing": self.tr("Enter the diagnosis."),
            "rx.advice_too_long": self.tr("The advice is too long (4000 characters at most)."),
            "rx.follow_up_past": self.tr("The follow-up date is in the past."),
            "rx.issued_immutable": self.tr(
                "An issued prescription cannot be edited. Issue a correction instead."
            ),
            "rx.already_issued": self.tr("This prescription has already been issued."),
            "rx.not_current": self.tr("Only the current issued prescription can be corrected."),
            "rx.correction_needs_reason": self.tr("Say why the prescription is corrected."),
            "rx.no_medicines": self.tr("Add at least one medicine."),
            "rx.bad_medicine": self.tr("Each medicine must be a set of fields."),
            "enrol.bad_url": self.tr(
                "The server address must start with http:// or https:// and name a host."
            ),
            "sync.no_credentials": self.tr(
                "This device has no server credentials. Enrol it with `clinic enroll`."
            ),
            "sync.unreadable_conflicts": self.tr("The server sent an unreadable list of conflicts."),
            "sync.credentials_refused": self.tr(
                "The server no longer accepts this device's credentials: re-enrol it or sign in again."
            ),
            "staff.managed_on_server": self.tr(
                "Staff accounts are managed on the clinic's server: ask its administrator."
            ),
            "sync.no_set_aside": self.tr(
                "No refused change with this id: it may have been retried or discarded already."
            ),
            "sync.forbidden": self.tr("The server does not allow this device or user to do that."),
            "sync.upgrade_required": self.tr("The server needs a newer ClinicDesk: update this app."),
            "sync.no_keyring": self.tr(
                "No keyring is available on this machine to keep the device's server token. "
                "Install and unlock the OS keyring (Secret Service or KWallet on Linux), "
                "or allow the data-dir file fallback."
            ),
        }


_renderer: ReasonWords | None = None


def render(reason: Reason) -> str:
    """`reason` in the app's current language (English until another is set)."""
    global _renderer
    if _renderer is None:
        _renderer = ReasonWords()
    return _renderer.render(reason)
