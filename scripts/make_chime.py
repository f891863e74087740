"""Writes resources/sounds/chime.wav: the board's two-note chime (E5 then C5, soft attack and
decay), 0.9 s, 22.05 kHz mono 16-bit. Made by this script, so free of any licence question.

    python scripts/make_chime.py
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22_050
NOTES = ((659.26, 0.0), (523.25, 0.35))  # (frequency Hz, start s)
LENGTH_S = 0.9
VOLUME = 0.45


def sample(t: float) -> float:
    value = 0.0
    for frequency, start in NOTES:
        if t < start:
            continue
        dt = t - start
        envelope = min(1.0, dt / 0.01) * math.exp(-dt * 4.5)
        value += envelope * (
            math.sin(2 * math.pi * frequency * dt) + 0.3 * math.sin(4 * math.pi * frequency * dt)
        )
    return value * VOLUME / 1.3


def main() -> None:
    target = Path(__file__).resolve().parents[1] / "resources" / "sounds" / "chime.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", round(max(-1.0, min(1.0, sample(i / RATE))) * 32767))
        for i in range(int(RATE * LENGTH_S))
    )
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
    print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
