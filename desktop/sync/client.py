"""The HTTP client of sync v1: one `requests.Session`, timeouts, retries with back-off, gzip.

- Every request carries `X-Clinic-Protocol`; every call but health and enroll carries
  `Authorization: Bearer <token>` from `token_provider` (asked on each call, so a new token
  after sign-in or re-enrolment is used at once).
- Connection errors and 502/503/504 are retried by urllib3's `Retry` with exponential back-off
  and jitter — POST included, because pushes are idempotent by `op_id`. Enrolment is not
  idempotent (a code works once), so it only retries connections that never reached the server.
- Request bodies above `gzip_threshold` bytes are sent gzip-compressed (`Content-Encoding:
  gzip`); gzip responses are accepted (requests decodes them).
- Failures become the typed errors of `desktop.sync.errors`.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from desktop.domain.reasons import Reason
from desktop.sync.errors import (
    AuthFailed,
    Forbidden,
    NotClinicDesk,
    Offline,
    ServerError,
    ServerRejected,
    SyncError,
    UpgradeRequired,
)
from desktop.sync.protocol import (
    DEFAULT_PULL_LIMIT,
    MAX_PULL_LIMIT,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    ClinicianChanges,
    EnrollRequest,
    EnrollResponse,
    Health,
    LoginRequest,
    LoginResponse,
    NewClinician,
    PullResponse,
    PushRequest,
    PushResponse,
    ResolveRequest,
    StaffMember,
)

DEFAULT_TIMEOUT = (3.05, 30.0)  # (connect, read) seconds
# A push of a few ops (a visit: ~4 KB) goes as it is: compressing and decompressing it costs both
# sides more CPU than sending the bytes saved on a clinic's network.
GZIP_THRESHOLD = 16 * 1024
# Level 1: a push of 1000 ops compresses in half the time of level 5 (2.4 ms against 5), 9% larger.
GZIP_LEVEL = 1
RETRY_STATUSES = (502, 503, 504)
USER_AGENT = f"ClinicDesk-sync/{PROTOCOL_VERSION}"

TokenProvider = Callable[[], str | None]
M = TypeVar("M", bound=BaseModel)


def make_retry(
    attempts: int, *, backoff_factor: float, backoff_max: float, backoff_jitter: float, idempotent: bool
) -> Retry:
    """Connection errors always; read errors and 502/503/504 only where a repeat is harmless."""
    again = attempts if idempotent else 0
    return Retry(
        total=attempts,
        connect=attempts,
        read=again,
        status=again,
        other=0,
        allowed_methods=None,  # every verb: pushes are idempotent by op_id
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_jitter,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last 5xx answer comes back and becomes a ServerError
    )


class SyncClient:
    """Blocking client for one server. Not for concurrent use (a `requests.Session` is not
    thread-safe): one thread at a time. The pull stage hands it to its helper thread for the page it
    fetches ahead and takes it back only once that request has ended; otherwise give each thread
    its own."""

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: TokenProvider | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff_factor: float = 0.5,
        backoff_max: float = 10.0,
        backoff_jitter: float = 0.5,
        gzip_threshold: int = GZIP_THRESHOLD,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.gzip_threshold = gzip_threshold
        self._token_provider = token_provider or (lambda: None)
        backoff = {
            "backoff_factor": backoff_factor,
            "backoff_max": backoff_max,
            "backoff_jitter": backoff_jitter,
        }
        self._session = self._make_session(make_retry(retries, idempotent=True, **backoff))
        self._once = self._make_session(make_retry(retries, idempotent=False, **backoff))

    @staticmethod
    def _make_session(retry: Retry) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=2)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(
            {PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Accept": "application/json", "User-Agent": USER_AGENT}
        )
        return session

    # -- endpoints ----------------------------------------------------------------------------

    def health(self) -> Health:
        return self._model(Health, self._call("GET", "/v1/health", auth=False))

    def enroll(self, code: str, name: str, kind: str) -> EnrollResponse:
        body = EnrollRequest(code=code.strip(), name=name, kind=kind)  # type: ignore[arg-type]
        answer = self._call("POST", "/v1/devices/enroll", body=body, auth=False, idempotent=False)
        return self._model(EnrollResponse, answer)

    def login(self, username: str, password: str) -> LoginResponse:
        body = LoginRequest(username=username, password=password)
        return self._model(LoginResponse, self._call("POST", "/v1/auth/login", body=body))

    def push(self, request: PushRequest) -> PushResponse:
        response = self._send("POST", "/v1/sync/push", body=request)
        return _parsed(PushResponse, response, "The server sent an unreadable answer")

    def pull(self, since: int, limit: int = DEFAULT_PULL_LIMIT) -> PullResponse:
        limit = max(1, min(limit, MAX_PULL_LIMIT))
        response = self._send("GET", "/v1/sync/pull", params={"since": since, "limit": limit})
        return _parsed(PullResponse, response, "The server sent an unreadable page of changes")

    def conflicts(self, since: int = 0, *, status: str = "open", limit: int = 200) -> dict[str, Any]:
        """A page of the clinic's conflict log (desks only): `{"conflicts": [...], "next", "more"}`."""
        answer = self._call("GET", "/v1/conflicts", params={"since": since, "status": status, "limit": limit})
        if not isinstance(answer, dict) or not isinstance(answer.get("conflicts"), list):
            raise ServerError(Reason.of("sync.unreadable_conflicts"))
        return answer

    def resolve(self, conflict_id: str, request: ResolveRequest) -> dict[str, Any]:
        answer = self._call("POST", f"/v1/conflicts/{conflict_id}/resolve", body=request)
        if not isinstance(answer, dict):
            raise ServerError(Reason.of("sync.unreadable_answer"))
        return answer

    def auth_headers(self) -> dict[str, str]:
        """What a call of this client sends to say who it is (the live channel's handshake sends it too)."""
        token = self._token_provider()
        if not token:
            raise AuthFailed(Reason.of("sync.no_credentials"))
        return {PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Authorization": f"Bearer {token}"}

    def add_clinician(self, request: NewClinician) -> StaffMember:
        """A new staff account of the clinic (with an admin's session token); devices pull it."""
        answer = self._call("POST", "/v1/admin/clinicians", body=request, idempotent=False)
        return self._model(StaffMember, answer)

    def change_clinician(self, user_id: str, changes: ClinicianChanges) -> StaffMember:
        """Change a staff account (with an admin's session token): what `changes` gives, nothing else."""
        return self._model(StaffMember, self._call("PATCH", f"/v1/admin/clinicians/{user_id}", body=changes))

    def close(self) -> None:
        self._session.close()
        self._once.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        idempotent: bool = True,
    ) -> Any:
        response = self._send(method, path, body=body, params=params, auth=auth, idempotent=idempotent)
        try:
            return response.json()
        except ValueError:
            raise _not_clinicdesk(response) from None

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        idempotent: bool = True,
    ) -> requests.Response:
        headers: dict[str, str] = {}
        if auth:
            headers["Authorization"] = self.auth_headers()["Authorization"]
        data: bytes | None = None
        if body is not None:
            data = body.model_dump_json().encode()
            headers["Content-Type"] = "application/json"
            if len(data) > self.gzip_threshold:
                data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
                headers["Content-Encoding"] = "gzip"
        session = self._session if idempotent else self._once
        try:
            response = session.request(
                method, self.base_url + path, data=data, params=params, headers=headers, timeout=self.timeout
            )
        except requests.exceptions.Timeout:
            raise Offline(Reason.of("sync.timeout", url=self.base_url)) from None
        except requests.exceptions.SSLError:
            raise Offline(Reason.of("sync.tls_failed", url=self.base_url)) from None
        except requests.exceptions.RequestException as exc:
            if _timed_out(exc):  # a read timeout after the last retry arrives as a ConnectionError
                raise Offline(Reason.of("sync.timeout", url=self.base_url)) from None
            raise Offline(Reason.of("sync.unreachable", url=self.base_url)) from None
        if response.status_code >= 400:
            raise _error_for(response)
        return response

    @staticmethod
    def _model(model: type[M], answer: Any) -> M:
        try:
            return model.model_validate(answer)
        except ValidationError as exc:
            raise ServerError(Reason.of("sync.unreadable_answer", problem=_first(exc))) from None


def _parsed(model: type[M], response: requests.Response, problem: str) -> M:
    """Straight from bytes: pydantic-core's JSON parser validates while it parses."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ServerError(f"{problem}: {_first(exc)}", status=response.status_code) from None


def _not_clinicdesk(response: requests.Response) -> NotClinicDesk:
    parts = urlsplit(response.url)
    server = f"{parts.scheme}://{parts.netloc}"
    answer = f"{response.status_code} {response.reason or ''}".strip()
    reason = Reason.of("sync.not_clinicdesk", server=server, answer=answer)
    return NotClinicDesk(reason, status=response.status_code)


def _error_for(response: requests.Response) -> SyncError:
    detail, field = _detail(response)
    status = response.status_code
    if detail is None and status not in RETRY_STATUSES:  # a proxy's 502-504 page: a server behind it
        return _not_clinicdesk(response)
    return error_for_status(status, detail, field)


def error_for_status(status: int, detail: str | None, field: str | None = None) -> SyncError:
    """The typed error of an HTTP error status and the server's `{"detail", "field"}`."""
    if status == 401:
        return AuthFailed(detail or Reason.of("sync.credentials_refused"))
    if status == 403:
        return Forbidden(detail or Reason.of("sync.forbidden"))
    if status == 426:
        return UpgradeRequired(detail or Reason.of("sync.upgrade_required"))
    if 400 <= status < 500:
        return ServerRejected(
            detail or Reason.of("sync.request_refused", status=status), status=status, field=field
        )
    return ServerError(detail or Reason.of("sync.server_problem", status=status), status=status)


def _detail(response: requests.Response) -> tuple[str | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, None
    return detail_of(body)


def detail_of(body: Any) -> tuple[str | None, str | None]:
    """The server's `{"detail", "field"}`; FastAPI's own 422 lists errors instead of one detail."""
    if not isinstance(body, dict):
        return None, None
    detail, field = body.get("detail"), body.get("field")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = first.get("loc") or []
        field = field or ".".join(str(p) for p in loc if p != "body") or None
        detail = str(first.get("msg", "invalid request"))
    return (str(detail) if detail else None), (str(field) if field else None)


def _timed_out(exc: requests.exceptions.RequestException) -> bool:
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # refused: a ConnectTimeoutError too
        return False
    return isinstance(reason, urllib3.exceptions.TimeoutError)


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
