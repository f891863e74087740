"""Row ids are time-ordered UUIDv7s; human codes survive being read aloud and typed by hand."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from desktop.domain.ids import (
    CROCKFORD,
    human_code,
    is_human_code,
    new_id,
    normalise_code,
    parse_token_code,
    token_code,
)


def test_new_ids_are_uuid7_strings() -> None:
    value = new_id()
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert parsed.version == 7


def test_new_ids_are_unique_and_sort_in_creation_order() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_a_later_id_sorts_after_an_earlier_one_across_milliseconds() -> None:
    first = new_id()
    time.sleep(0.003)
    assert new_id() > first
    # The first 48 bits are the creation time in milliseconds.
    assert abs(int(first.replace("-", "")[:12], 16) - time.time() * 1000) < 5_000


def test_crockford_alphabet_has_no_look_alike_letters() -> None:
    assert len(CROCKFORD) == 32
    assert not set("ILOU") & set(CROCKFORD)


@pytest.mark.parametrize("prefix", ["APT", "RX", "PAT"])
def test_human_codes_use_only_crockford_characters(prefix: str) -> None:
    codes = {human_code(prefix) for _ in range(2_000)}
    pattern = re.compile(rf"^{prefix}-[{CROCKFORD}]{{5}}$")
    assert all(pattern.match(code) for code in codes)
    assert all(is_human_code(code) for code in codes)
    assert len(codes) > 1_990  # random enough that collisions are rare
    assert not set("".join(code.split("-", 1)[1] for code in codes)) & set("ILOU")


def test_is_human_code_refuses_look_alikes_and_wrong_shapes() -> None:
    assert not is_human_code("APT-7K3QO")  # letter O
    assert not is_human_code("APT-7K3Q")
    assert not is_human_code("XYZ-7K3Q9")
    assert not is_human_code("apt-7k3q9")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("apt-7k3q9", "APT-7K3Q9"),
        ("APT-7K3QO", "APT-7K3Q0"),
        ("  apt-oil1l ", "APT-01111"),
        ("rx-l0o1i", "RX-10011"),
        ("pat-ab0cd", "PAT-AB0CD"),
    ],
)
def test_normalise_code_maps_look_alike_letters(typed: str, expected: str) -> None:
    assert normalise_code(typed) == expected
    assert is_human_code(expected)


def test_normalise_code_leaves_the_prefix_alone() -> None:
    # Only the part after the dash is translated; a bare word is just upper-cased.
    assert normalise_code("pat-io") == "PAT-10"
    assert normalise_code("lol") == "LOL"


def test_token_codes_are_the_letter_and_a_three_digit_number() -> None:
    assert token_code("A", 17) == "A-017"
    assert token_code("B", 1) == "B-001"
    assert token_code("C", 1234) == "C-1234"
    assert parse_token_code(" a-017 ") == ("A", 17)
    assert parse_token_code(token_code("Z", 999)) == ("Z", 999)
    assert parse_token_code("A17") is None
