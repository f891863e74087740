"""Services hand callers plain frozen values: no public service function returns a live ORM row,
and each record holds exactly its entity's data (never a clinician's password hash)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import typing
from typing import Any

import pytest

import desktop.services
from desktop.services import records
from desktop.store.codec import data_fields
from desktop.store.models import ENTITY_MODELS, Base

RECORDS = {
    "clinic": records.ClinicRecord,
    "clinician": records.ClinicianRecord,
    "availability": records.AvailabilityRecord,
    "patient": records.PatientRecord,
    "appointment": records.AppointmentRecord,
    "waitlist_entry": records.WaitlistEntryRecord,
    "queue_token": records.QueueTokenRecord,
    "consultation": records.ConsultationRecord,
    "chat_message": records.ChatMessageRecord,
    "prescription": records.PrescriptionRecord,
    "reminder": records.ReminderRecord,
}
NEVER_SHOWN = {"deleted", "password_hash"}
NOT_SERVICES = {"desktop.services.records"}


@pytest.mark.parametrize("entity", sorted(RECORDS))
def test_a_record_holds_its_entitys_data_and_is_frozen(entity: str) -> None:
    record = RECORDS[entity]
    names = {f.name for f in dataclasses.fields(record)}
    assert names == {"id"} | (data_fields(ENTITY_MODELS[entity]) - NEVER_SHOWN)
    assert record.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _orm_types_in(annotation: Any, seen: set[Any]) -> list[str]:
    if annotation in seen:
        return []
    seen.add(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Base):
        return [annotation.__name__]
    found: list[str] = []
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        for hint in typing.get_type_hints(annotation).values():
            found += _orm_types_in(hint, seen)
    for arg in typing.get_args(annotation):
        found += _orm_types_in(arg, seen)
    return found


def _public_functions() -> list[tuple[str, Any]]:
    out = []
    for module_info in pkgutil.iter_modules(desktop.services.__path__, "desktop.services."):
        if module_info.name in NOT_SERVICES:
            continue
        module = importlib.import_module(module_info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and fn.__module__ == module.__name__:
                out.append((f"{module.__name__}.{name}", fn))
    return out


def test_no_public_service_returns_an_orm_row() -> None:
    functions = _public_functions()
    assert len(functions) > 40
    leaks = {}
    for name, fn in functions:
        found = _orm_types_in(typing.get_type_hints(fn).get("return"), set())
        if found:
            leaks[name] = found
    assert leaks == {}
