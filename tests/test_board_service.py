"""What the board may read (token codes and rooms, nothing about patients) and the recall."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pytest

from desktop.domain.errors import InvalidInput
from desktop.services import board, patients, queue
from desktop.services.common import SYSTEM
from desktop.store.local import LocalStore
from tests.support import ClinicSetup, Clock


def test_the_board_view_holds_codes_and_rooms_only(
    store: LocalStore, clinic: ClinicSetup, clock: Clock
) -> None:
    with store.unit_of_work() as uow:
        patient = patients.register(
            uow, actor=SYSTEM, full_name="Walburga Eisenhut", birth_date=date(1941, 2, 3)
        )
        first = queue.issue_token(uow, actor=clinic.desk, patient_id=patient.id, clinician_id=clinic.doctor_a)
        queue.issue_token(uow, actor=clinic.desk, clinician_id=clinic.doctor_b)
        queue.issue_token(uow, actor=clinic.desk)
        queue.call(uow, actor=clinic.doctor, token_id=first.id)
    with store.reading() as session:
        view = board.board_view(session, now=clock())
    assert [(c.code, c.room) for c in view.called] == [("A-001", "1")]
    assert [(r.room, r.codes) for r in view.upcoming] == [("2", ("A-002",)), (board.ANY_ROOM, ("A-003",))]
    assert "Walburga" not in repr(view) and "1941" not in repr(view)
    assert {f.name for f in fields(board.CalledToken)} == {"token_id", "code", "room", "called_at"}


def test_a_recall_moves_the_call_time_and_only_a_called_token_can_be_recalled(
    store: LocalStore, clinic: ClinicSetup, clock: Clock
) -> None:
    with store.unit_of_work() as uow:
        token = queue.issue_token(uow, actor=clinic.desk, clinician_id=clinic.doctor_a)
        with pytest.raises(InvalidInput, match="not being called"):
            queue.recall(uow, actor=clinic.doctor, token_id=token.id)
    with store.unit_of_work() as uow:
        called_at = queue.call(uow, actor=clinic.doctor, token_id=token.id).called_at
    clock.advance(minutes=3)
    with store.unit_of_work() as uow:
        recalled = queue.recall(uow, actor=clinic.doctor, token_id=token.id)
        assert recalled.called_at is not None and called_at is not None
        assert recalled.called_at > called_at and recalled.status == "called"
