"""The device's end of the live channel (`WS /v1/sync/live`, docs/sync.md "Live updates").

`LiveListener` is a thread that holds one websocket to the server and calls `on_notice(seq)` for
each notice (the clinic's newest change this device may pull); the sync worker owns one and pulls
when told of a seq past its cursor. When the connection cannot be made or is lost (the server
restarts, the network drops, a proxy that does not pass websockets) it tries again with jittered
exponential back-off, from `backoff_initial` to `backoff_cap`; the device syncs on its timer
meanwhile. Refusals that retrying cannot mend soon (401, 403, 426, a server without the channel)
wait `backoff_cap`. `on_state(connected)` says when the connection comes and goes.

No Qt, no asyncio: a plain thread on websockets' blocking client, like the rest of desktop.sync.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from desktop.domain.reasons import Reason
from desktop.sync.client import USER_AGENT, SyncClient, detail_of, error_for_status
from desktop.sync.errors import Offline, SyncError
from desktop.sync.protocol import LIVE_PATH, LiveNotice

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

log = logging.getLogger(__name__)
Connect = Callable[[], "ClientConnection"]
MAX_NOTICE_BYTES = 4096
POLICY_VIOLATION = 1008  # the server closed because the token no longer works


def open_live(
    client: SyncClient,
    *,
    open_timeout: float = 5.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
) -> ClientConnection:
    """The live channel of `client`'s server, authenticated with its token; typed errors
    (`AuthFailed`, `UpgradeRequired`, `ServerRejected` for a server without the channel, `Offline`).
    Pings find a connection that died without a word within `ping_interval + ping_timeout`."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    url = "ws" + client.base_url.removeprefix("http") + LIVE_PATH  # http -> ws, https -> wss
    headers = client.auth_headers()
    try:
        return connect(
            url,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            compression=None,  # notices are a few bytes; a deflate context costs each side ~300 KB
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=2.0,
            max_size=MAX_NOTICE_BYTES,
            legacy=True,  # the connection itself, not websockets 17's reconnecting iterator
        )
    except InvalidStatus as exc:
        try:
            body = json.loads(exc.response.body or b"null")
        except ValueError:
            body = None
        detail, field = detail_of(body)
        raise error_for_status(exc.response.status_code, detail, field) from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise Offline(Reason.of("sync.live_unavailable", url=client.base_url, problem=str(exc))) from None


class LiveListener:
    def __init__(
        self,
        connect: Connect,
        on_notice: Callable[[int], None],
        on_state: Callable[[bool], None],
        *,
        backoff_initial: float = 1.0,
        backoff_cap: float = 60.0,
        name: str = "clinicdesk-live",
    ):
        self._connect = connect
        self._on_notice = on_notice
        self._on_state = on_state
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self._stopping = threading.Event()
        self._poke = threading.Event()  # stop, or retry_now: the back-off's sleep ends
        self._lock = threading.Lock()
        self._connection: ClientConnection | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Close the connection and end the thread; True once joined."""
        self._stopping.set()
        self._poke.set()
        with self._lock:
            connection = self._connection
        if connection is not None:
            connection.close()
        if not self._thread.is_alive():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def retry_now(self) -> None:
        """Cut a back-off short (the server answered a sync: it is back); no effect while connected."""
        self._poke.set()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                connection = self._connect()
            except SyncError as exc:
                failures += 1
                # A server without the channel (404), credentials it refuses: retrying soon cannot help.
                self._sleep(self._backoff(failures) if exc.retryable else self.backoff_cap, exc)
                continue
            except Exception as exc:  # a bug: keep the thread, and the device's timer, alive
                log.exception("the live channel failed")
                failures += 1
                self._sleep(self.backoff_cap, exc)
                continue
            heard, refused = self._listen(connection)
            failures = 0 if heard else failures + 1
            if refused:
                self._sleep(self.backoff_cap, "the server no longer accepts this device's token")
            elif failures:
                self._sleep(self._backoff(failures), "the connection closed before any notice")
            else:
                self._sleep(self._backoff(1), "the connection was lost")

    def _listen(self, connection: ClientConnection) -> tuple[bool, bool]:
        """Pass notices on until the connection ends: (whether one came, whether the token was refused)."""
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            if self._stopping.is_set():
                connection.close()
                return False, False
            self._connection = connection
            self._poke.clear()  # a retry_now() made before this connection is spent
        heard = False
        self._set_state(True)
        try:
            for message in connection:
                try:
                    notice = LiveNotice.model_validate_json(message)
                except ValidationError:
                    log.warning("ignored a malformed live notice: %.100r", message)
                    continue
                heard = True
                self._on_notice(notice.seq)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("the live channel failed")
        finally:
            with self._lock:
                self._connection = None
            connection.close()
            self._set_state(False)
        return heard, connection.close_code == POLICY_VIOLATION

    def _backoff(self, failures: int) -> float:
        """Exponential, capped, with jitter (half fixed, half random): after a server restart, its
        devices come back spread out rather than all at once."""
        delay = min(self.backoff_cap, self.backoff_initial * 2 ** (failures - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def _sleep(self, seconds: float, why: object) -> None:
        if self._stopping.is_set():
            return
        log.info("live channel down (%s); trying again in %.1f s", why, seconds)
        self._poke.wait(seconds)
        self._poke.clear()

    def _set_state(self, connected: bool) -> None:
        try:
            self._on_state(connected)
        except Exception:
            log.exception("a live channel observer failed")
