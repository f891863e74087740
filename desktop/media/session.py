"""`CallSession`: one side of a video consultation (design/CALLS.md).

The session owns its peer connection, the proxies of its sources, its data channel, its
signalling connection and its recorder, and closes all of them in `finally`. It runs on the media
loop (`desktop.media.loop`); its events are plain callables, called on that loop (the call window
re-emits them as Qt signals).

How a call goes: both sides join the room on the signalling server; the doctor's side offers
once both are present; the patient's side answers. aiortc has no ICE restart, so a failed
connection, or a peer that comes back without its media, is met with a fresh negotiation. A
dropped signalling socket alone leaves the media alone (it flows peer to peer): the session
rejoins in the background and tells the server its media is still up, so nobody renegotiates.

Chat: lines cross the data channel as JSON and are kept in the session's transcript. The side
given a `ChatLog` (the doctor's desk, which holds the consultation) stores every line, its own and
the peer's, with the id the sender gave it; on every new data channel it sends the transcript, so
the other side shows it again after a reconnect. Lines written while the channel is down wait in
an outbox and leave when it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop.domain.ids import new_id
from desktop.media.signalling import Message, Signalling, SignallingFactory, SignallingLost, SignallingRefused
from desktop.media.tracks import SharedSource, SwitchTrack

log = logging.getLogger(__name__)

DOCTOR, PATIENT = "doctor", "patient"
STATS_EVERY_S = 1.0
REJOIN_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # then every 5 s until the call ends
MAX_CHAT_CHARS = 4000
# What a description from the other side may raise when applied.
BAD_DESCRIPTION = (ValueError, KeyError, TypeError, InvalidStateError, InvalidAccessError)


class CallState(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"  # in the room, the other side is not
    CONNECTING = "connecting"  # both present, negotiating
    CONNECTED = "connected"  # media flows
    RECONNECTING = "reconnecting"  # media dropped: a fresh negotiation is under way
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class ChatLine:
    id: str
    role: str  # doctor | patient
    body: str
    sent_at: datetime

    def wire(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role, "body": self.body, "sent_at": self.sent_at.isoformat()}

    @classmethod
    def from_wire(cls, data: Any) -> ChatLine | None:
        try:
            line = cls(
                id=str(data["id"])[:36],
                role=data["role"] if data["role"] in (DOCTOR, PATIENT) else "",
                body=str(data["body"])[:MAX_CHAT_CHARS],
                sent_at=datetime.fromisoformat(data["sent_at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return line if line.role and line.body.strip() and line.sent_at.tzinfo else None


class ChatLog(Protocol):
    """Where one side keeps the call's chat for the record (the doctor's desk: `chat_message` rows)."""

    def save(self, line: ChatLine) -> None: ...

    def history(self) -> list[ChatLine]: ...


@dataclass(frozen=True, slots=True)
class CallStats:
    """One second of the call, for the quality indicator."""

    rtt_ms: float | None  # round trip, from the far side's RTCP reports
    loss_pct: float  # inbound packets lost in the last second
    bitrate_kbps: float  # inbound, everything the connection carried
    fps: float  # video frames received and decoded in the last second
    audio_packets_sent: int  # totals since the connection started
    video_packets_sent: int

    @property
    def quality(self) -> str:
        """`good`, `fair` or `poor`: what the indicator shows."""
        rtt = self.rtt_ms or 0.0
        if self.loss_pct > 8 or rtt > 600 or (self.fps and self.fps < 10):
            return "poor"
        if self.loss_pct > 2 or rtt > 250 or (self.fps and self.fps < 20):
            return "fair"
        return "good"


def _ignore(*_: Any) -> None:
    return None


@dataclass
class CallEvents:
    """What the session tells its owner; each is called on the media loop."""

    state: Callable[[CallState], None] = _ignore
    chat: Callable[[ChatLine], None] = _ignore
    typing: Callable[[bool], None] = _ignore
    stats: Callable[[CallStats], None] = _ignore
    video_frame: Callable[[Any], None] = _ignore  # av.VideoFrame, decoded
    audio_frame: Callable[[Any], None] = _ignore  # av.AudioFrame, decoded
    consent: Callable[[str, bool], None] = _ignore  # (role, given): either side's recording consent
    recording: Callable[[Path | None], None] = _ignore  # the file, or None when it stops
    # `refused:4401|4403` (the call ends), `signalling_lost` (rejoining), `offer:...` / `answer:...`
    # (a description from the other side that could not be applied).
    error: Callable[[str], None] = _ignore


@dataclass
class CallSources:
    """What this side sends. None: nothing of that kind is sent (receive-only), and it is said."""

    camera: SharedSource | None = None
    microphone: SharedSource | None = None


def ice_servers(setting: str) -> list[RTCIceServer]:
    """The `ice_servers` setting as aiortc takes it: `stun:host:port`, `turn:user:secret@host:port`
    (`turns:` too), separated by commas or spaces; "" is none."""
    servers = []
    for entry in setting.replace(",", " ").split():
        scheme, _, rest = entry.partition(":")
        if scheme not in ("stun", "turn", "turns") or not rest:
            raise ValueError(
                f"Not a STUN or TURN server: {entry!r} (stun:host:port, turn:user:secret@host:port)."
            )
        if "@" in rest:
            credentials, host = rest.rsplit("@", 1)
            username, _, secret = credentials.partition(":")
            servers.append(RTCIceServer(urls=f"{scheme}:{host}", username=username, credential=secret))
        else:
            servers.append(RTCIceServer(urls=entry))
    return servers


@dataclass
class CallOptions:
    ice_servers: list[RTCIceServer] = field(default_factory=list)  # none by default (PLATFORM.md)
    recording_dir: Path | None = None  # where this side writes a consented recording
    consent_log: Callable[[str, bool], None] | None = None  # logs this side's own consent (audit)


def _description(kind: str, pc: RTCPeerConnection) -> Message:
    return {"type": kind, "sdp": pc.localDescription.sdp, "sdp_type": pc.localDescription.type}


class CallSession:
    def __init__(
        self,
        *,
        role: str,
        signalling: SignallingFactory,
        sources: CallSources | None = None,
        events: CallEvents | None = None,
        chat_log: ChatLog | None = None,
        options: CallOptions | None = None,
    ) -> None:
        if role not in (DOCTOR, PATIENT):
            raise ValueError(f"role is doctor or patient, not {role!r}")
        self.role = role
        self.state = CallState.IDLE
        self._new_signalling = signalling
        self.sources = sources or CallSources()
        self.events = events or CallEvents()
        self.chat_log = chat_log
        self.options = options or CallOptions()
        self.transcript: dict[str, ChatLine] = {}
        self.muted = False
        self.camera_off = False
        self.sharing: MediaStreamTrack | None = None
        self.consents: dict[str, bool] = {DOCTOR: False, PATIENT: False}
        self.recording_path: Path | None = None
        self.connected_at: float | None = None  # time.monotonic() of the first connection
        self.joined_at: float | None = None
        self.joins = 0  # times this side joined the room (rejoins after a dropped socket count)
        self.negotiations = 0  # peer connections made (a fresh one per recovery)
        self._outbox: list[dict[str, Any]] = []
        self._pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self._outgoing: dict[str, SwitchTrack] = {}  # what each sender of the connection holds
        self._sending: dict[str, SharedSource | None] = {}
        self._remote: dict[str, tuple[MediaRelay, MediaStreamTrack]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signalling: Signalling | None = None
        self._peer_present = False
        self._ended = asyncio.Event()
        self._recorder: MediaRecorder | None = None
        self._frames = 0
        self._last_inbound: tuple[float, int, int, int] | None = None  # (time, bytes, received, lost)

    # -- running -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Join the call and keep it up until `end()` or the peer's `bye`; always cleans up."""
        try:
            self._spawn(self._stats_every_second())
            await self._signalling_until_ended()
        finally:
            self._set_state(CallState.ENDED)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._stop_recording()
            await self._close_peer()
            if self._signalling is not None:
                with contextlib.suppress(OSError):
                    await self._signalling.close()

    async def end(self) -> None:
        """Hang up: the other side is told (`bye`), and everything closes."""
        if self._ended.is_set():
            return
        self._ended.set()
        if self._signalling is not None:
            with contextlib.suppress(SignallingLost, SignallingRefused, OSError):
                await asyncio.wait_for(self._signalling.send({"type": "bye"}), 2.0)
            with contextlib.suppress(OSError):
                await self._signalling.close()

    async def _signalling_until_ended(self) -> None:
        attempt = 0
        while not self._ended.is_set():
            self._signalling = self._new_signalling()
            try:
                joined = await self._signalling.join(media_up=self._media_up())
                attempt = 0
                self.joins += 1
                self.joined_at = self.joined_at or time.monotonic()
                await self._on_joined(joined)
                while not self._ended.is_set():
                    await self._on_message(await self._signalling.receive())
            except SignallingRefused as exc:
                self.events.error(f"refused:{exc.code}")
                self._ended.set()
            except SignallingLost:
                if self._ended.is_set():
                    break
                with contextlib.suppress(OSError):
                    await self._signalling.close()
                self.events.error("signalling_lost")
                if self.joins and not self._media_up():
                    self._set_state(CallState.RECONNECTING)
                delay = REJOIN_DELAYS_S[min(attempt, len(REJOIN_DELAYS_S) - 1)]
                attempt += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ended.wait(), delay)

    def _media_up(self) -> bool:
        return self._pc is not None and self._pc.connectionState == "connected"

    async def _on_joined(self, joined: Message) -> None:
        self._peer_present = bool(joined.get("peer_present"))
        if self._media_up():
            return
        if not self._peer_present:
            self._set_state(CallState.WAITING)
        elif self.role == DOCTOR:
            await self._negotiate()
        else:
            self._set_state(CallState.CONNECTING)

    async def _on_message(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "waiting":
            self._peer_present = False
            if not self._media_up():
                self._set_state(CallState.WAITING)
        elif kind == "peer_joined":
            self._peer_present = True
            if self._media_up() and message.get("peer_media_up"):
                self._set_state(CallState.CONNECTED)
            elif self.role == DOCTOR:
                await self._negotiate()
            else:
                self._set_state(CallState.CONNECTING)
        elif kind == "peer_left":
            self._peer_present = False
            # Its process or its network went; media may still be flowing if only the socket did.
            self._set_state(CallState.RECONNECTING if self.connected_at else CallState.WAITING)
        elif kind == "offer" and self.role == PATIENT:
            try:
                await self._answer(message)
            except BAD_DESCRIPTION as exc:  # a garbled offer: wait for the next one
                self.events.error(f"offer:{exc}")
        elif kind == "answer" and self.role == DOCTOR and self._pc is not None:
            try:
                await self._pc.setRemoteDescription(
                    RTCSessionDescription(sdp=message["sdp"], type=message["sdp_type"])
                )
            except BAD_DESCRIPTION as exc:  # late (for a connection since replaced) or garbled
                self.events.error(f"answer:{exc}")
        elif kind == "bye":
            self._ended.set()

    # -- negotiation -------------------------------------------------------------------------------

    def _new_peer(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self.options.ice_servers)))

        @pc.on("connectionstatechange")
        async def changed() -> None:
            if pc is not self._pc:
                return
            if pc.connectionState == "connected":
                self.connected_at = self.connected_at or time.monotonic()
                self._last_inbound = (time.monotonic(), 0, 0, 0)  # the first second's rates from here
                self._frames = 0
                self._set_state(CallState.CONNECTED)
            elif pc.connectionState == "failed" and not self._ended.is_set():
                self._set_state(CallState.RECONNECTING)
                if self.role == DOCTOR and self._peer_present:
                    self._spawn(self._negotiate())

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            relay = MediaRelay()
            self._remote[track.kind] = (relay, track)
            self._spawn(self._consume(relay.subscribe(track, buffered=False)))

        @pc.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            self._use_channel(channel)

        return pc

    async def _negotiate(self) -> None:
        """The doctor's side: a fresh peer connection and its offer."""
        await self._close_peer()
        self._set_state(CallState.RECONNECTING if self.connected_at else CallState.CONNECTING)
        pc = self._pc = self._new_peer()
        self.negotiations += 1
        for kind in ("audio", "video"):
            pc.addTransceiver(self._new_outgoing(kind), direction="sendrecv")
        self._refresh_senders()
        self._use_channel(pc.createDataChannel("chat"))
        await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
        if pc is self._pc and self._signalling is not None:
            description = pc.localDescription
            with contextlib.suppress(SignallingLost):
                await self._signalling.send(
                    {"type": "offer", "sdp": description.sdp, "sdp_type": description.type}
                )

    async def _answer(self, message: Message) -> None:
        """The patient's side: every offer starts a fresh peer connection."""
        offer = RTCSessionDescription(sdp=message["sdp"], type=message["sdp_type"])
        await self._close_peer()
        self._set_state(CallState.RECONNECTING if self.connected_at else CallState.CONNECTING)
        pc = self._pc = self._new_peer()
        self.negotiations += 1
        await pc.setRemoteDescription(offer)
        for transceiver in pc.getTransceivers():
            if transceiver.kind in ("audio", "video") and transceiver.kind not in self._outgoing:
                transceiver.direction = "sendrecv"
                transceiver.sender.replaceTrack(self._new_outgoing(transceiver.kind))
        self._refresh_senders()
        await pc.setLocalDescription(await pc.createAnswer())
        if pc is self._pc and self._signalling is not None:
            description = pc.localDescription
            with contextlib.suppress(SignallingLost):
                await self._signalling.send(
                    {"type": "answer", "sdp": description.sdp, "sdp_type": description.type}
                )

    def _new_outgoing(self, kind: str) -> SwitchTrack:
        self._outgoing[kind] = outgoing = SwitchTrack(kind)
        return outgoing

    async def _close_peer(self) -> None:
        pc, self._pc = self._pc, None
        self._channel = None
        for outgoing in self._outgoing.values():
            outgoing.stop()
        self._outgoing.clear()
        self._sending.clear()
        for _relay, track in self._remote.values():
            track.stop()
        self._remote.clear()
        self._last_inbound = None
        if pc is not None:
            await pc.close()

    # -- what is sent ------------------------------------------------------------------------------

    def _refresh_senders(self) -> None:
        """Switch into each outgoing track what it should send now: a proxy of the source, the
        screen, or nothing (then no packet of that kind leaves)."""
        self._switch("audio", None if self.muted else self.sources.microphone)
        if self.sharing is not None:
            outgoing = self._outgoing.get("video")
            if outgoing is not None and outgoing.source is not self.sharing:
                outgoing.switch(self.sharing)
                self._sending["video"] = None
        else:
            self._switch("video", None if self.camera_off else self.sources.camera)

    def _switch(self, kind: str, source: SharedSource | None) -> None:
        outgoing = self._outgoing.get(kind)
        if outgoing is None or (self._sending.get(kind) is source and outgoing.source is not None):
            return
        self._sending[kind] = source
        outgoing.switch(source.subscribe() if source is not None else None)

    def set_muted(self, muted: bool) -> None:
        """Muted: no audio packet leaves (the sender has no track), not merely silence."""
        self.muted = muted
        self._refresh_senders()

    def set_camera_off(self, off: bool) -> None:
        self.camera_off = off
        self._refresh_senders()

    def start_screen_share(self, track: MediaStreamTrack) -> None:
        """Send `track` (a screen capture) instead of the camera, until `stop_screen_share`."""
        self.sharing = track
        self._refresh_senders()

    def stop_screen_share(self) -> None:
        """Back to the camera; the screen track is stopped."""
        self.sharing = None
        self._refresh_senders()

    # -- what is received --------------------------------------------------------------------------

    async def _consume(self, track: MediaStreamTrack) -> None:
        handler = self.events.video_frame if track.kind == "video" else self.events.audio_frame
        video = track.kind == "video"
        try:
            while True:
                frame = await track.recv()
                if video:
                    self._frames += 1
                handler(frame)
        except MediaStreamError:
            pass

    # -- chat --------------------------------------------------------------------------------------

    def _use_channel(self, channel: RTCDataChannel) -> None:
        self._channel = channel

        @channel.on("open")
        def opened() -> None:
            self._on_channel_open(channel)

        @channel.on("message")
        def received(text: Any) -> None:
            if isinstance(text, str):
                self._spawn(self._on_channel_message(text))

        if channel.readyState == "open":
            self._on_channel_open(channel)

    def _on_channel_open(self, channel: RTCDataChannel) -> None:
        if channel is not self._channel:
            return
        if self.transcript:
            self._channel_send(
                {"type": "history", "lines": [line.wire() for line in self.transcript.values()]}
            )
        outbox, self._outbox = self._outbox, []
        for message in outbox:
            self._channel_send(message)
        if self.consents[self.role]:
            self._channel_send({"type": "consent", "recording": True})

    def _channel_send(self, message: dict[str, Any]) -> bool:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return False
        channel.send(json.dumps(message))
        return True

    async def _on_channel_message(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "chat":
            line = ChatLine.from_wire(message.get("line"))
            if line is not None:
                await self._keep(line)
        elif kind == "history":
            for data in message.get("lines", [])[:2000]:
                line = ChatLine.from_wire(data)
                if line is not None:
                    await self._keep(line)
        elif kind == "typing":
            self.events.typing(bool(message.get("on")))
        elif kind == "consent":
            await self._on_consent(self._peer_role, bool(message.get("recording")))

    async def _keep(self, line: ChatLine) -> None:
        """A line of either side, new to this transcript: stored (where a log is kept) and shown."""
        if line.id in self.transcript:
            return
        self.transcript[line.id] = line
        if self.chat_log is not None:
            await asyncio.to_thread(self.chat_log.save, line)
        self.events.chat(line)

    async def send_chat(self, body: str) -> ChatLine:
        """Send a chat line; with the channel down it is kept and leaves when the channel opens."""
        text = body.strip()
        if not text:
            raise ValueError("The message is empty.")
        if len(text) > MAX_CHAT_CHARS:
            raise ValueError(f"Messages are limited to {MAX_CHAT_CHARS} characters.")
        line = ChatLine(id=new_id(), role=self.role, body=text, sent_at=datetime.now(UTC))
        await self._keep(line)
        message = {"type": "chat", "line": line.wire()}
        if not self._channel_send(message):
            self._outbox.append(message)
        return line

    def set_typing(self, on: bool) -> None:
        self._channel_send({"type": "typing", "on": on})

    def load_history(self) -> None:
        """The stored chat of this consultation, shown again (after the app restarted mid-call)."""
        if self.chat_log is not None:
            for line in self.chat_log.history():
                self.transcript.setdefault(line.id, line)

    # -- recording ---------------------------------------------------------------------------------

    @property
    def _peer_role(self) -> str:
        return PATIENT if self.role == DOCTOR else DOCTOR

    async def consent_to_recording(self, given: bool = True) -> None:
        """This side's consent (logged); recording starts once both sides have consented."""
        if self.options.consent_log is not None:
            await asyncio.to_thread(self.options.consent_log, self.role, given)
        self._channel_send({"type": "consent", "recording": given})
        await self._on_consent(self.role, given)

    async def _on_consent(self, role: str, given: bool) -> None:
        if self.consents[role] == given:
            return
        self.consents[role] = given
        self.events.consent(role, given)
        if all(self.consents.values()):
            await self._start_recording()
        else:
            await self._stop_recording()

    async def _start_recording(self) -> None:
        folder = self.options.recording_dir
        if folder is None or self._recorder is not None or not self._remote:
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"call-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{new_id()[-6:]}.mkv"
        recorder = MediaRecorder(str(path))
        for relay, track in self._remote.values():
            recorder.addTrack(relay.subscribe(track))
        await recorder.start()
        self._recorder, self.recording_path = recorder, path
        self.events.recording(path)

    async def _stop_recording(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            await recorder.stop()
            self.events.recording(None)

    # -- stats -------------------------------------------------------------------------------------

    async def _stats_every_second(self) -> None:
        while not self._ended.is_set():
            await asyncio.sleep(STATS_EVERY_S)
            pc = self._pc
            if pc is None or pc.connectionState != "connected":
                continue
            self.events.stats(await self.read_stats(pc))

    async def read_stats(self, pc: RTCPeerConnection | None = None) -> CallStats:
        pc = pc or self._pc
        report = await pc.getStats() if pc is not None else {}
        now = time.monotonic()
        rtts: list[float] = []
        sent = {"audio": 0, "video": 0}
        inbound_bytes = received = lost = 0
        for stat in report.values():
            if stat.type == "remote-inbound-rtp" and stat.roundTripTime is not None:
                rtts.append(stat.roundTripTime * 1000)
            elif stat.type == "outbound-rtp":
                sent[stat.kind] = sent.get(stat.kind, 0) + stat.packetsSent
            elif stat.type == "transport":
                inbound_bytes += stat.bytesReceived
            elif stat.type == "inbound-rtp":
                received += stat.packetsReceived
                lost += max(0, stat.packetsLost)
        frames, self._frames = self._frames, 0
        previous, self._last_inbound = self._last_inbound, (now, inbound_bytes, received, lost)
        then, bytes_then, received_then, lost_then = previous or (now, inbound_bytes, received, lost)
        elapsed = max(1e-3, now - then)
        bitrate = (inbound_bytes - bytes_then) * 8 / 1000 / elapsed
        got, missed = received - received_then, lost - lost_then
        loss = 100.0 * missed / (got + missed) if got + missed > 0 else 0.0
        fps = frames / elapsed
        return CallStats(
            rtt_ms=max(rtts) if rtts else None,
            loss_pct=loss,
            bitrate_kbps=bitrate,
            fps=fps,
            audio_packets_sent=sent["audio"],
            video_packets_sent=sent["video"],
        )

    # -- plumbing ----------------------------------------------------------------------------------

    def _set_state(self, state: CallState) -> None:
        if self.state is CallState.ENDED or state is self.state:
            return
        self.state = state
        self.events.state(state)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def chat_lines(self) -> list[ChatLine]:
        return sorted(self.transcript.values(), key=lambda line: (line.sent_at, line.id))
