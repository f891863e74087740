"""Patient input rules: duplicate keys, phone numbers, names and birth dates."""

from __future__ import annotations

from datetime import date

import pytest

from desktop.domain.errors import InvalidInput
from desktop.domain.patients import (
    age_on,
    check_birth_date,
    clean_name,
    duplicate_keys,
    name_key,
    normalise_phone,
)


def test_name_key_ignores_accents_case_order_and_punctuation() -> None:
    assert name_key("José Núñez-García") == name_key("garcia nunez jose")
    assert name_key("  JOSÉ   núñez garcía ") == "garcia jose nunez"
    assert name_key("Müller, Jürgen") == name_key("jurgen muller")


def test_name_key_tells_different_people_apart() -> None:
    assert name_key("José Núñez") != name_key("José Núñez-García")
    assert name_key("Anna Schmidt") != name_key("Hanna Schmidt")


def test_duplicate_keys_pair_name_or_phone_with_the_birth_date() -> None:
    born = date(1980, 5, 1)
    keys = duplicate_keys("José Núñez", born, "+491701234567")
    assert keys.by_name == (name_key("nunez jose"), born)
    assert keys.by_phone == ("+491701234567", born)
    assert duplicate_keys("José Núñez", born, None).by_phone is None


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (30) 123-4567", "DE", "+49301234567"),
        ("0170 1234567", "DE", "+491701234567"),
        ("+91 98123 45678", "DE", "+919812345678"),
        ("098123 45678", "IN", "+919812345678"),
        ("(212) 555-0123", "US", "+12125550123"),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw: str, region: str, expected: str) -> None:
    assert normalise_phone(raw, region) == expected


def test_an_empty_phone_is_no_phone() -> None:
    assert normalise_phone(None, "DE") is None
    assert normalise_phone("   ", "DE") is None


@pytest.mark.parametrize("raw", ["12", "call me", "+49 0", "0000000000000000"])
def test_an_unusable_phone_names_the_phone_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalise_phone(raw, "DE")
    assert info.value.field == "phone"


def test_clean_name_collapses_spaces_and_refuses_nonsense() -> None:
    assert clean_name("  Anna   Maria  Schmidt ") == "Anna Maria Schmidt"
    for bad in ("", "A", "12345", "x" * 121):
        with pytest.raises(InvalidInput) as info:
            clean_name(bad)
        assert info.value.field == "full_name"


def test_birth_date_must_be_plausible() -> None:
    today = date(2026, 3, 2)
    assert check_birth_date(date(2026, 3, 2), today) == date(2026, 3, 2)  # born today
    for bad in (date(2026, 3, 3), date(1890, 1, 1)):
        with pytest.raises(InvalidInput) as info:
            check_birth_date(bad, today)
        assert info.value.field == "birth_date"


def test_age_counts_whole_years_up_to_the_birthday() -> None:
    assert age_on(date(1950, 3, 2), date(2026, 3, 2)) == 76
    assert age_on(date(1950, 3, 3), date(2026, 3, 2)) == 75
    assert age_on(date(2024, 2, 29), date(2025, 2, 28)) == 0
    assert age_on(date(2024, 2, 29), date(2025, 3, 1)) == 1
