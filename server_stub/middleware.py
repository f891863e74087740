"""ASGI middleware that guards the API before any route parses anything.

- `ProtocolGate`: every call but health and enrol names the sync protocol it speaks; a missing or
  unsupported version is 426 with a message for staff, before auth or parsing, so an app too old
  to be understood is told to update rather than that its request is malformed.
- `AuthGate`: every call but health and enrol carries a token the server accepts, checked before
  the body is read: a stranger gets 401, not a 422 that tells the schema, and no body is parsed
  for nobody. Routes authenticate again in their own transaction; the gate only keeps strangers out.
- `BodyGuard`: the request body is read whole (at most `limit` bytes, whatever Content-Length
  says), gunzipped when `Content-Encoding: gzip` (at most `limit` bytes out: a zip bomb stops at
  the limit), and handed to the app as a plain body. Over the limit is 413.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Collection, Mapping

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, SUPPORTED_PROTOCOLS

# Read and dropped after a 413, so the client can finish sending and read the answer instead
# of seeing its connection reset; a client sending more than this is cut off.
DRAIN_FACTOR = 4


async def send_error(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ProtocolGate:
    def __init__(self, app: ASGIApp, *, prefix: str = "/v1/", exempt: Collection[str] = ()):
        self.app = app
        self.prefix = prefix
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefix) or path in self.exempt:
            await self.app(scope, receive, send)
            return
        problem = self.problem(Headers(scope=scope).get(PROTOCOL_HEADER))
        if problem is None:
            await self.app(scope, receive, send)
            return
        upgrade = {"Upgrade": f"clinicdesk-sync/{PROTOCOL_VERSION}"}
        await send_error(send, 426, problem, upgrade)

    @staticmethod
    def problem(value: str | None) -> str | None:
        if value is None:
            return (
                "This ClinicDesk app is too old for the server (it does not say which sync protocol "
                "it speaks). Please update ClinicDesk on this device."
            )
        try:
            version = int(value.strip())
        except ValueError:
            version = None
        if version in SUPPORTED_PROTOCOLS:
            return None
        if version is not None and version > max(SUPPORTED_PROTOCOLS):
            return (
                f"This ClinicDesk app speaks sync protocol {version}, newer than the server's "
                f"{PROTOCOL_VERSION}. Ask your administrator to update the server."
            )
        return (
            f"This ClinicDesk app speaks sync protocol {value.strip()[:10]!r}, which the server no longer "
            f"supports (it speaks {PROTOCOL_VERSION}). Please update ClinicDesk on this device."
        )


TokenCheck = Callable[[Scope, str | None], Awaitable[str | None]]


def bearer_token(headers: Headers) -> str | None:
    """The token of `Authorization: Bearer <token>`, the scheme in any case (as HTTPBearer reads it)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


class AuthGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        check: TokenCheck,
        limit: int,
        prefix: str = "/v1/",
        exempt: Collection[str] = (),
    ):
        self.app = app
        self.check = check
        self.limit = limit
        self.prefix = prefix
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefix) or path in self.exempt:
            await self.app(scope, receive, send)
            return
        refusal = await self.check(scope, bearer_token(Headers(scope=scope)))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await drain(receive, self.limit)  # read and dropped, never parsed: the client reads the 401
        await send_error(send, 401, refusal, {"WWW-Authenticate": "Bearer"})


async def drain(receive: Receive, limit: int) -> None:
    """Read and drop the rest of the request body, at most DRAIN_FACTOR times `limit` bytes."""
    dropped = 0
    while dropped <= DRAIN_FACTOR * limit:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        dropped += len(message.get("body", b""))


class TooLarge(Exception):
    pass


class BadEncoding(Exception):
    pass


class Disconnected(Exception):
    pass


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of `data`, never more than `limit` bytes out (TooLarge past it)."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))  # always >= 1: 0 means no limit
        except zlib.error as exc:
            raise BadEncoding(f"The request body is not valid gzip data ({exc}).") from None
        if len(out) > limit:
            raise TooLarge
        if not inflater.eof:
            raise BadEncoding("The request body is truncated gzip data.")
        data = inflater.unused_data
    return bytes(out)


class BodyGuard:
    """`limit` bytes, or the smaller limit `small` gives a path (sign-in and enrolment, whose bodies
    are a few hundred bytes and which a stranger may call)."""

    def __init__(self, app: ASGIApp, *, limit: int, small: Mapping[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.small = dict(small or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.small.get(scope.get("path", ""), self.limit)
        too_large = (
            f"The request body is larger than {limit // (1024 * 1024)} MiB: send fewer ops per push."
            if limit >= 1024 * 1024
            else f"The request body is larger than {limit // 1024} KiB, the most this call takes."
        )
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip"):
            await send_error(send, 415, f"The server accepts gzip request bodies, not {encoding[:20]!r}.")
            return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            if not declared.isdigit():
                await send_error(send, 400, "The Content-Length header is not a number.")
                return
            await drain(receive, limit)
            await send_error(send, 413, too_large)
            return
        try:
            body, complete = await self._read(receive, limit)
        except Disconnected:
            return  # nobody to answer
        if body is None:
            if not complete:
                await drain(receive, limit)
            await send_error(send, 413, too_large)
            return
        if encoding == "gzip":
            try:
                body = gunzip(body, limit)
            except TooLarge:
                await send_error(send, 413, too_large + " (after decompression)")
                return
            except BadEncoding as exc:
                await send_error(send, 400, str(exc))
                return
        raw = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"content-encoding")]
        raw.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": raw}, self._replay(body, receive), send)

    @staticmethod
    async def _read(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
        """The whole body, or None as soon as it passes the limit; and whether all of it came."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise Disconnected
            chunk = message.get("body", b"")
            complete = not message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                return None, complete
            chunks.append(chunk)
            if complete:
                return b"".join(chunks), True

    @staticmethod
    def _replay(body: bytes, receive: Receive) -> Receive:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()  # waits for the disconnect, as the server's receive does
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay
