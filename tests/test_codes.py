"""Human codes: a code already used on this device is drawn again, never a failed registration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from desktop.services import common, patients
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from tests.support import ClinicSetup


def test_a_taken_code_is_drawn_again(
    store: LocalStore, clinic: ClinicSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.unit_of_work() as uow:
        first = patients.register(uow, actor=SYSTEM, full_name="Alma Roth", birth_date=date(1970, 1, 1))
    draws: Iterator[str] = iter([first.code, first.code, "PAT-NEW00"])
    monkeypatch.setattr(common, "human_code", lambda prefix: next(draws))
    with store.unit_of_work() as uow:
        second = patients.register(uow, actor=SYSTEM, full_name="Berta Krug", birth_date=date(1971, 2, 2))
    assert second.code == "PAT-NEW00"
