"""Prescription content rules. Issued prescriptions never change; a correction is a new version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from desktop.domain.errors import InvalidInput
from desktop.domain.reasons import Reason

ROUTES = (
    "oral",
    "sublingual",
    "topical",
    "inhaled",
    "nasal",
    "eye",
    "ear",
    "rectal",
    "vaginal",
    "subcutaneous",
    "intramuscular",
    "intravenous",
    "other",
)
MAX_MEDICINES = 30


class PrescriptionStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class Medicine:
    name: str
    strength: str
    dose: str
    route: str
    frequency: str
    duration: str
    instructions: str = ""


_REQUIRED = ("name", "dose", "route", "frequency", "duration")


def validate_medicines(items: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Check each medicine line; errors name the line, e.g. `medicines[2].dose`."""
    if not items:
        raise InvalidInput(Reason.of("rx.no_medicines"), field="medicines")
    if len(items) > MAX_MEDICINES:
        raise InvalidInput(Reason.of("rx.too_many_medicines", most=MAX_MEDICINES), field="medicines")
    out: list[dict[str, str]] = []
    for i, raw in enumerate(items):
        if not isinstance(raw, Mapping):
            raise InvalidInput(Reason.of("rx.bad_medicine"), field=f"medicines[{i}]")
        values = {k: str(raw.get(k) or "").strip() for k in Medicine.__dataclass_fields__}
        for key in _REQUIRED:
            if not values[key]:
                raise InvalidInput(
                    Reason.of("rx.medicine_missing", n=i + 1, name=key), field=f"medicines[{i}].{key}"
                )
        if values["route"].lower() not in ROUTES:
            raise InvalidInput(
                Reason.of("rx.unknown_route", n=i + 1, route=values["route"]), field=f"medicines[{i}].route"
            )
        values["route"] = values["route"].lower()
        out.append(asdict(Medicine(**values)))
    return out
