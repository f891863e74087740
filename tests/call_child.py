"""Run by test_call_media.py in its own process: the patient's side of a call, with the synthetic
sources, until killed. Prints `state <name>` lines as the call moves.

    python tests/call_child.py WS_BASE_URL APPOINTMENT_ID TOKEN
"""

from __future__ import annotations

import asyncio
import sys

from desktop.media.session import CallEvents, CallSession, CallSources
from desktop.media.signalling import WebSocketSignalling, calls_url
from desktop.media.tracks import TestPatternTrack, ToneTrack, shared


async def main(base_url: str, appointment_id: str, token: str) -> None:
    url = calls_url(base_url, appointment_id)
    session = CallSession(
        role="patient",
        signalling=lambda: WebSocketSignalling(url, lambda: token),
        sources=CallSources(shared(TestPatternTrack(320, 240)), shared(ToneTrack(1000))),
        events=CallEvents(state=lambda state: print("state", state.value, flush=True)),
    )
    await session.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
