"""The calendar invitation (`.ics`, RFC 5545 / iTIP) attached to appointment e-mails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText


@dataclass(frozen=True, slots=True)
class Invitation:
    uid: str  # the same for every message of one visit (reschedules included): calendars update it
    sequence: int  # grows with each message, so the newest wins
    method: str  # REQUEST | CANCEL
    starts_at: datetime  # aware
    ends_at: datetime
    zone: str  # the clinic's zone: DTSTART carries it (TZID) with its VTIMEZONE
    summary: str
    location: str
    description: str
    organiser_email: str
    organiser_name: str
    attendee_email: str
    attendee_name: str


def invitation_ics(inv: Invitation, *, stamp: datetime) -> bytes:
    zone = ZoneInfo(inv.zone)
    calendar = Calendar()
    calendar.add("prodid", "-//ClinicDesk//Reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", inv.method)
    event = Event()
    event.add("uid", inv.uid)
    event.add("sequence", inv.sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", inv.starts_at.astimezone(zone))
    event.add("dtend", inv.ends_at.astimezone(zone))
    event.add("summary", inv.summary)
    event.add("location", inv.location)
    event.add("description", inv.description)
    event.add("status", "CANCELLED" if inv.method == "CANCEL" else "CONFIRMED")
    organiser = vCalAddress(f"mailto:{inv.organiser_email}")
    organiser.params["cn"] = vText(inv.organiser_name)
    event.add("organizer", organiser)
    attendee = vCalAddress(f"mailto:{inv.attendee_email}")
    attendee.params["cn"] = vText(inv.attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    calendar.add_component(vtimezone(inv.zone, inv.starts_at.astimezone(zone).year))
    calendar.add_component(event)
    return calendar.to_ical()


@lru_cache(maxsize=64)
def vtimezone(zone: str, year: int) -> Timezone:
    """The zone's rules around the event's year. icalendar derives them by walking the zone's
    offsets (~70 ms for its default 1970-2038), so a zone's few years are derived once."""
    return Timezone.from_tzid(zone, first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
