"""Typed sync errors, sorted by what the device should do about them (like Anki's sync errors).

| error | when | what the worker does |
| --- | --- | --- |
| `Offline` | connection refused, DNS, TLS, timeouts | backs off and retries quietly |
| `ServerError` | 5xx after the client's own retries | backs off and retries |
| `AuthFailed` | 401 | stops; staff must re-enrol the device or sign in again |
| `Forbidden` | 403 | stops this action; the role or device may not do it |
| `UpgradeRequired` | 426 | stops; the app must be updated |
| `ServerRejected` | any other 4xx | reports the server's message (and field) |
| `NotClinicDesk` | something else answers at the address | stops; staff must check the address |
| `CredentialsUnavailable` | no usable keyring | tells staff how to fix the machine |

Every message is meant for staff, not developers. All are `ClinicError`s, so `clinic` prints them.
"""

from __future__ import annotations

from desktop.domain.errors import ClinicError
from desktop.domain.reasons import Reason


class SyncError(ClinicError):
    code = "sync_error"
    retryable = False  # would trying again later, unchanged, help?


class Offline(SyncError):
    code = "offline"
    retryable = True


class ServerError(SyncError):
    code = "server_error"
    retryable = True

    def __init__(self, message: str | Reason, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthFailed(SyncError):
    code = "auth_failed"


class Forbidden(SyncError):
    code = "forbidden"


class UpgradeRequired(SyncError):
    code = "upgrade_required"


class ServerRejected(SyncError):
    """A 4xx other than 401/403/426: the server's `detail` is the message, `field` names the culprit."""

    code = "rejected"

    def __init__(self, message: str | Reason, *, status: int, field: str | None = None):
        super().__init__(message, field=field)
        self.status = status


class NotClinicDesk(SyncError):
    """Something answers at the server's address, but not a ClinicDesk sync server (a web server,
    a proxy's page, another API): a wrong address or port, which retrying will not fix."""

    code = "not_clinicdesk"

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class CredentialsUnavailable(SyncError):
    code = "no_keyring"


class Cancelled(SyncError):
    """The caller asked sync to stop; what was committed before stays committed."""

    code = "cancelled"
