"""Every reason code the core uses has English words and is documented; the English is what the
CLI printed before reasons existed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from desktop.domain.english import CATALOGUE, english, ordinal
from desktop.domain.errors import BookingConflict
from desktop.domain.reasons import Reason, text

REPO = Path(__file__).resolve().parents[1]
USED = re.compile(r"""Reason\.of\(\s*["']([a-z_.]+)["']""")


def codes_in_the_code() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "desktop").rglob("*.py"):
        found |= set(USED.findall(path.read_text()))
    found |= {
        m
        for m in re.findall(
            r'"(booking\.(?:slot_full|no_slot))"', (REPO / "desktop/services/booking.py").read_text()
        )
    }
    return found


def test_every_code_used_has_english_and_is_documented() -> None:
    used = codes_in_the_code()
    assert len(used) >= 15
    assert used - CATALOGUE.keys() == set()
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", (REPO / "docs/reasons.md").read_text(), re.M))
    assert documented == set(CATALOGUE)


def test_the_english_is_the_clis_wording() -> None:
    kolkata = datetime(2026, 3, 2, 4, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Kolkata"))
    parts = (Reason.of("queue.waited", minutes=25, points=25), Reason.of("queue.aged", age=78, points=15))
    position = Reason.of("queue.position", token="A-017", position=3, parts=parts, score=40)
    assert english(position) == "A-017 is 3rd: waited 25 min (+25), aged 78 (+15) = 40 points"
    full = Reason.of("booking.slot_full", doctor="Dr. Rao", at=kolkata, next_free=None)
    assert english(full) == "Dr. Rao is fully booked at Mon 2 Mar 09:30."
    impossible = Reason.of("booking.follow_up_impossible", n=2, day=date(2026, 4, 13))
    assert english(impossible) == "Follow-up 2 cannot be booked: nothing free on Mon 13 Apr 2026."
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]
    assert english(Reason.of("no.such.code")) == "no.such.code"  # shown, never an error


def test_a_typed_error_carries_its_reason_and_its_english() -> None:
    error = BookingConflict(Reason.of("booking.seat_taken", doctor="Dr. Rao"), field="starts_at")
    assert error.reason.code == "booking.seat_taken" and error.reason["doctor"] == "Dr. Rao"
    assert (
        error.message
        == str(error)
        == "Someone else just booked Dr. Rao at that time. Please pick another slot."
    )
    plain = BookingConflict("The offer has expired.")
    assert plain.reason == text("The offer has expired.") and plain.message == "The offer has expired."
