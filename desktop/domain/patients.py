"""Patient input rules and the keys used to spot probable duplicates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import phonenumbers
from unidecode import unidecode

from desktop.domain.errors import InvalidInput
from desktop.domain.reasons import Reason

MAX_AGE_YEARS = 130
SEXES = ("female", "male", "other", "unknown")
_NON_LETTERS = re.compile(r"[^a-z ]+")


def name_key(full_name: str) -> str:
    """Folded, order-free form of a name: `José  Núñez-García` and `garcia nunez jose` match."""
    folded = _NON_LETTERS.sub(" ", unidecode(full_name).lower())
    return " ".join(sorted(folded.split()))


def clean_name(full_name: str) -> str:
    name = " ".join(full_name.split())
    if len(name) < 2:
        raise InvalidInput(Reason.of("patient.name_missing"), field="full_name")
    if len(name) > 120:
        raise InvalidInput(Reason.of("patient.name_too_long"), field="full_name")
    if not any(ch.isalpha() for ch in name):
        raise InvalidInput(Reason.of("patient.name_without_letters"), field="full_name")
    return name


def normalise_phone(raw: str | None, region: str) -> str | None:
    """E.164 form (`+919812345678`), or None for an empty field; InvalidInput when unusable."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(Reason.of("patient.unreadable_phone"), field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(Reason.of("patient.bad_phone"), field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_birth_date(birth_date: date, today: date) -> date:
    if birth_date > today:
        raise InvalidInput(Reason.of("patient.born_in_future"), field="birth_date")
    if age_on(birth_date, today) > MAX_AGE_YEARS:
        raise InvalidInput(Reason.of("patient.bad_birth_date"), field="birth_date")
    return birth_date


def age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


@dataclass(frozen=True, slots=True)
class DuplicateKeys:
    """Two registrations are probably one person if either key matches."""

    by_name: tuple[str, date]
    by_phone: tuple[str, date] | None


def duplicate_keys(full_name: str, birth_date: date, phone_e164: str | None) -> DuplicateKeys:
    return DuplicateKeys((name_key(full_name), birth_date), (phone_e164, birth_date) if phone_e164 else None)
