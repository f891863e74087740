"""Audit trail: every read or change of a patient's record, by whom, from which device."""

from __future__ import annotations

from desktop.services.common import Actor
from desktop.store.models import AuditEvent
from desktop.store.uow import UnitOfWork


def record(
    uow: UnitOfWork,
    *,
    actor: Actor,
    clinic_id: str,
    action: str,
    entity: str,
    entity_id: str | None,
    patient_id: str | None,
    detail: str = "",
) -> None:
    uow.insert(
        AuditEvent(
            clinic_id=clinic_id,
            at=uow.now(),
            actor_id=actor.user_id,
            actor_role=actor.role.value,
            device_id=uow.device_id or None,
            patient_id=patient_id,
            action=action,
            entity=entity,
            entity_id=entity_id,
            detail=detail[:300],
        ),
        attach=False,  # append-only
    )
