"""Enrolment: this device joins a clinic's server with a one-time code (the kiosk's and desk's
set-up screens and `clinic enroll` share it).

The code is redeemed for a device id, a token, the clinic and the device's queue-token letter.
The store adopts the server's device id at once (the node of the device's clock stamps and the
device named in audit rows); the token goes to the keyring (see desktop.sync.credentials). A data
dir that already holds another clinic's data is refused: one data dir, one clinic. So is a desk's
data dir enrolled as a kiosk or a board, which may not keep what a desk holds (prescriptions,
chat, staff passwords...).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from desktop.domain.errors import InvalidInput, NotAllowed
from desktop.domain.reasons import Reason
from desktop.store.local import LocalStore
from desktop.store.models import ENTITY_MODELS, Clinic
from desktop.sync.client import SyncClient
from desktop.sync.credentials import Credentials
from desktop.sync.protocol import DESK_ONLY_FIELDS, HIDDEN


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    clinic_id: str
    letter: str
    kind: str
    server_url: str


def check_server_url(url: str) -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:  # 'http://[::1': "Invalid IPv6 URL"
        raise InvalidInput(Reason.of("enrol.invalid_url", url=url, problem=str(exc)), field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(Reason.of("enrol.bad_url"), field="url")
    return url


def enrol(
    store: LocalStore, *, url: str, code: str, kind: str, name: str, credentials: Credentials
) -> Enrolment:
    """Redeem `code` at the server `url` as a device of `kind` named `name`, and become that device
    (no sync yet). Every refusal that can be known beforehand is made before the code is spent."""
    url = check_server_url(url)
    if store.device().server_url is None:
        _refuse_mixing(store, None)  # set up locally, never synced: it cannot be the server's clinic
    _refuse_narrowing(store, kind)
    with SyncClient(url, token_provider=credentials.device_token) as client:
        enrolled = client.enroll(code, name, kind)
    _refuse_mixing(store, enrolled.clinic_id, spent_device=enrolled.device_id)
    credentials.save_device_token(enrolled.token)
    store.adopt_enrolment(
        device_id=enrolled.device_id,
        server_url=url,
        clinic_id=enrolled.clinic_id,
        letter=enrolled.letter,
        kind=kind,
    )
    return Enrolment(enrolled.device_id, enrolled.clinic_id, enrolled.letter, kind, url)


def _other_clinics(store: LocalStore, clinic_id: str | None) -> list[tuple[str, str]]:
    """(id, name) of clinics in the local database other than `clinic_id`."""
    with store.reading() as session:
        rows = session.execute(select(Clinic.id, Clinic.name).where(Clinic.id != (clinic_id or ""))).all()
    return [(row.id, row.name) for row in rows]


def _refuse_mixing(store: LocalStore, clinic_id: str | None, *, spent_device: str | None = None) -> None:
    others = _other_clinics(store, clinic_id)
    if others:
        reason = Reason.of(
            "enrol.other_clinic",
            data_dir=str(store.data_dir),
            clinics=tuple(name for _, name in others),
            spent_device=spent_device,
        )
        raise NotAllowed(reason, field="data_dir")


def _kept_from(store: LocalStore, kind: str) -> list[str]:
    """What this data dir holds that a device of `kind` may not keep, if it was another kind of
    device: a kiosk keeps no chat, prescriptions or histories, a board no patients (SYNC.md)."""
    if kind == "desk" or store.device().kind == kind:
        return []  # a desk keeps everything; a re-enrolled kiosk, what it made (its audit events)
    found: list[str] = []
    with store.reading() as session:
        for entity in sorted(HIDDEN[kind]):
            table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
            if session.execute(select(table.c.id).limit(1)).first() is not None:
                found.append(entity.replace("_", " "))
        for entity, fields in DESK_ONLY_FIELDS.items():
            table = ENTITY_MODELS[entity].__table__  # type: ignore[attr-defined]
            for name in sorted(fields):
                if session.execute(select(table.c.id).where(table.c[name].is_not(None)).limit(1)).first():
                    found.append(f"{entity} {name.replace('_', ' ')}")
    return found


def _refuse_narrowing(store: LocalStore, kind: str) -> None:
    kept = _kept_from(store, kind)
    if kept:
        reason = Reason.of(
            "enrol.kind_may_not_keep",
            data_dir=str(store.data_dir),
            was=store.device().kind,
            kind=kind,
            kept=tuple(kept),
        )
        raise NotAllowed(reason, field="data_dir")
