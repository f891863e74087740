"""Medicine lines are checked one by one, and every error names the line and the field."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.domain.errors import InvalidInput
from desktop.domain.prescriptions import MAX_MEDICINES, validate_medicines


def medicine(**overrides: Any) -> dict[str, Any]:
    line = {
        "name": "Amoxicillin",
        "strength": "500 mg",
        "dose": "1 capsule",
        "route": "Oral",
        "frequency": "3 times a day",
        "duration": "7 days",
    }
    line.update(overrides)
    return line


def test_valid_lines_come_back_clean() -> None:
    out = validate_medicines([medicine(name="  Ibuprofen "), medicine(instructions=" after food ")])
    assert out[0]["name"] == "Ibuprofen"
    assert out[0]["route"] == "oral"
    assert out[1]["instructions"] == "after food"
    assert set(out[0]) == {"name", "strength", "dose", "route", "frequency", "duration", "instructions"}


def test_unknown_keys_are_dropped() -> None:
    assert "dosage" not in validate_medicines([medicine(dosage="lots")])[0]


@pytest.mark.parametrize("missing", ["name", "dose", "route", "frequency", "duration"])
def test_a_missing_required_field_names_the_line_and_the_field(missing: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_medicines([medicine(), medicine(**{missing: "  "})])
    assert info.value.field == f"medicines[1].{missing}"
    assert "Medicine 2" in info.value.message


def test_the_strength_may_be_left_empty() -> None:
    assert validate_medicines([medicine(strength="")])[0]["strength"] == ""


def test_an_unknown_route_names_the_route() -> None:
    with pytest.raises(InvalidInput) as info:
        validate_medicines([medicine(route="by ear trumpet")])
    assert info.value.field == "medicines[0].route"


def test_the_list_itself_is_checked() -> None:
    with pytest.raises(InvalidInput) as info:
        validate_medicines([])
    assert info.value.field == "medicines"
    with pytest.raises(InvalidInput) as info:
        validate_medicines([medicine()] * (MAX_MEDICINES + 1))
    assert info.value.field == "medicines"
    with pytest.raises(InvalidInput) as info:
        validate_medicines([medicine(), "Paracetamol 500"])  # type: ignore[list-item]
    assert info.value.field == "medicines[1]"
