"""The signalling client of `WS /v1/calls/{appointment_id}` (design/CALLS.md), and an in-memory
pair with the same behaviour for unit tests.

A `Signalling` is one connection: `join()` authenticates and returns the `joined` message, then
`send()` / `receive()` carry JSON objects. A refusal (4401, 4403) raises `SignallingRefused`,
which retrying cannot fix; a dropped connection raises `SignallingLost`, after which the call
opens a new `Signalling` from its factory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

Message = dict[str, Any]

UNAUTHORISED, FORBIDDEN = 4401, 4403
CONNECT_TIMEOUT_S = 5.0


class SignallingRefused(Exception):
    """The server refused this device or user for this call (4401: token, 4403: not theirs)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class SignallingLost(ConnectionError):
    """The connection to the signalling server dropped or could not be made."""


class Signalling(Protocol):
    async def join(self, *, media_up: bool) -> Message: ...

    async def send(self, message: Message) -> None: ...

    async def receive(self) -> Message: ...

    async def close(self) -> None: ...


SignallingFactory = Callable[[], Signalling]


def calls_url(server_url: str, appointment_id: str) -> str:
    """`http(s)://host[:port]` → `ws(s)://host[:port]/v1/calls/<id>`."""
    parts = urlsplit(server_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = f"{parts.path}/v1/calls/{quote(appointment_id, safe='')}"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _refusal(exc: ConnectionClosed) -> SignallingRefused | None:
    frame = exc.rcvd
    if frame is not None and frame.code in (UNAUTHORISED, FORBIDDEN):
        return SignallingRefused(frame.code, frame.reason)
    return None


class WebSocketSignalling:
    """One websocket to the server's call room."""

    def __init__(self, url: str, token_provider: Callable[[], str | None]) -> None:
        self.url = url
        self._token = token_provider
        self._socket: Any = None

    async def join(self, *, media_up: bool) -> Message:
        try:
            self._socket = await asyncio.wait_for(
                websockets.connect(self.url, open_timeout=CONNECT_TIMEOUT_S, max_size=2**20),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise SignallingLost(f"The server cannot be reached: {exc}") from exc
        await self.send({"type": "auth", "token": self._token() or "", "media_up": media_up})
        answer = await self.receive()
        if answer.get("type") != "joined":
            raise SignallingLost(f"Unexpected first answer: {answer.get('type')!r}")
        return answer

    async def send(self, message: Message) -> None:
        try:
            await self._socket.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise _refusal(exc) or SignallingLost(str(exc)) from exc

    async def receive(self) -> Message:
        while True:
            try:
                text = await self._socket.recv()
            except ConnectionClosed as exc:
                raise _refusal(exc) or SignallingLost(str(exc)) from exc
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()


# -- in memory, for unit tests ----------------------------------------------------------------------


class MemoryRoom:
    """The server's room in one process: two seats, presence, relay."""

    def __init__(self) -> None:
        self.seats: dict[str, MemorySignalling] = {}

    def side(self, role: str) -> SignallingFactory:
        return lambda: MemorySignalling(self, role)

    def _other(self, role: str) -> MemorySignalling | None:
        return self.seats.get("patient" if role == "doctor" else "doctor")


class MemorySignalling:
    def __init__(self, room: MemoryRoom, role: str) -> None:
        self.room = room
        self.role = role
        self.inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self.open = False

    async def join(self, *, media_up: bool) -> Message:
        old = self.room.seats.get(self.role)
        if old is not None:
            await old.close()
        self.room.seats[self.role] = self
        self.open = True
        other = self.room._other(self.role)
        if other is None:
            self.inbox.put_nowait({"type": "waiting"})
        else:
            other.inbox.put_nowait({"type": "peer_joined", "peer_media_up": media_up})
        return {
            "type": "joined",
            "role": self.role,
            "peer_present": other is not None,
            "peer_media_up": False,
        }

    async def send(self, message: Message) -> None:
        if not self.open:
            raise SignallingLost("closed")
        other = self.room._other(self.role)
        if other is not None:
            other.inbox.put_nowait(message)

    async def receive(self) -> Message:
        message = await self.inbox.get()
        if message is None:
            raise SignallingLost("closed")
        return message

    async def close(self) -> None:
        if not self.open:
            return
        self.open = False
        self.inbox.put_nowait(None)
        if self.room.seats.get(self.role) is self:
            del self.room.seats[self.role]
            other = self.room._other(self.role)
            if other is not None:
                other.inbox.put_nowait({"type": "peer_left"})
