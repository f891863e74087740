"""A video consultation on this machine: two peers as two processes through the real signalling
server on 127.0.0.1, with the synthetic sources (issue 13).

    python bench/call.py                 # 30 s at 640×480@30, then 30 s at 1280×720@30
    python bench/call.py --quick --json  # 10 s at 640×480 only, one JSON object on stdout (< 1 min)

The parent process runs the sync server (SQLite in a temp dir), makes a clinic with a doctor, a
desk, a kiosk and an accepted telehealth appointment, then starts the patient's process (a kiosk,
which waits in the room) and the doctor's (a desk, which joins and offers). Each side sends the
stamped test pattern and a tone and reads the stamp of every frame it decodes.

Figures (the doctor's side joins second, as a doctor joining a waiting patient):
- `connect_ms`: the doctor's join → its peer connection connected (target ≤ 300);
- `first_frame_ms`: the doctor's join → the first frame of the patient decoded (≤ 500);
- `fps`: frames decoded per second over the window, the lower side's (≥ 29 at 640×480@30);
- `latency_median_ms`: frame made (its drawn timestamp) → decoded, median, the worse side's (≤ 80);
- `cpu_pct_per_side`: each process's CPU time over the window, % of one core, the busier side (≤ 40).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import requests
from common import ProgressLog, StolenTime, machine  # bench/common.py: scripts run as `python bench/x.py`

from desktop.domain.appointments import AppointmentStatus, AppointmentType
from desktop.domain.clock import HybridLogicalClock
from desktop.domain.ids import human_code, new_id
from desktop.domain.patients import name_key
from desktop.store.models import Appointment, Patient
from desktop.store.types import utcnow
from desktop.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

TARGETS = {
    "connect_ms": 300,
    "first_frame_ms": 500,
    "fps": 29,
    "latency_median_ms": 80,
    "cpu_pct_per_side": 40,
}
WARM_UP_S = 1.0  # after connecting, before the window opens (the encoder's first keyframes)
FPS = 30
PASSWORD = "bench-password"


# -- one side, in its own process ------------------------------------------------------------------


def luma_stamp(frame: Any) -> Any:
    """The stamp of a decoded frame, read from its luma plane (no colour conversion)."""
    from desktop.media.tracks import read_stamp

    plane = frame.planes[0]
    luma = np.frombuffer(bytes(plane), dtype=np.uint8).reshape(frame.height, plane.line_size)[
        :, : frame.width
    ]
    return read_stamp(luma)


async def run_side(role: str, url: str, token: str, width: int, height: int, seconds: float) -> None:
    from desktop.media.session import CallEvents, CallSession, CallSources, CallState
    from desktop.media.signalling import WebSocketSignalling
    from desktop.media.tracks import TestPatternTrack, ToneTrack, shared, wall_millis

    window: dict[str, Any] = {"open": False, "frames": 0, "latencies": []}
    marks: dict[str, float] = {}

    def on_frame(frame: Any) -> None:
        marks.setdefault("first_frame", time.monotonic())
        if not window["open"]:
            return
        window["frames"] += 1
        stamp = luma_stamp(frame)
        if stamp is not None:
            window["latencies"].append(wall_millis() - stamp.millis)

    def on_state(state: CallState) -> None:
        print(json.dumps({"state": state.value}), flush=True)
        if state is CallState.CONNECTED:
            marks.setdefault("connected", time.monotonic())

    session = CallSession(
        role=role,
        signalling=lambda: WebSocketSignalling(url, lambda: token),
        sources=CallSources(
            shared(TestPatternTrack(width, height, FPS)), shared(ToneTrack(440 if role == "doctor" else 1000))
        ),
        events=CallEvents(state=on_state, video_frame=on_frame),
    )
    joined = time.monotonic()
    running = asyncio.ensure_future(session.run())
    while "connected" not in marks:
        await asyncio.sleep(0.005)
    await asyncio.sleep(WARM_UP_S)
    cpu, wall = os.times(), time.monotonic()
    window["open"] = True
    await asyncio.sleep(seconds)
    window["open"] = False
    cpu_end, wall_end = os.times(), time.monotonic()
    used = (cpu_end.user - cpu.user) + (cpu_end.system - cpu.system)
    latencies = window["latencies"]
    print(
        json.dumps(
            {
                "role": role,
                "connect_ms": round((marks["connected"] - joined) * 1000, 1),
                "first_frame_ms": round((marks["first_frame"] - joined) * 1000, 1),
                "fps": round(window["frames"] / (wall_end - wall), 2),
                "latency_median_ms": round(statistics.median(latencies), 1) if latencies else None,
                "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
                "stamps_read": len(latencies),
                "cpu_pct": round(100 * used / (wall_end - wall), 1),
            }
        ),
        flush=True,
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent says
    await session.end()
    await running


# -- the parent: server, clinic, the two processes -------------------------------------------------


def telehealth_call(base_url: str, database_url: str) -> tuple[str, str, str]:
    """A clinic with a doctor signed in on a desk, a kiosk, and an accepted telehealth appointment;
    returns (appointment id, the doctor's session token, the kiosk's token)."""
    from server_stub import admin
    from server_stub.db import create_server_engine

    clock = HybridLogicalClock("bench")
    username = f"dr{new_id()[-8:]}"  # a clinic per call
    engine = create_server_engine(database_url)
    http = requests.Session()
    http.headers[PROTOCOL_HEADER] = str(PROTOCOL_VERSION)
    try:
        with engine.begin() as conn:
            a = admin.Admin(conn, utcnow(), clock)
            clinic_id = admin.create_clinic(a, name="Bench Clinic", timezone="Asia/Kolkata", region="IN")
            doctor_id = admin.add_user(
                a, clinic_id=clinic_id, username=username, name="Dr Bench", role="doctor", password=PASSWORD
            )
            codes = {
                kind: admin.enrolment_code(a, kind=kind, clinic_id=clinic_id) for kind in ("desk", "kiosk")
            }
            patient_id, appointment_id = new_id(), new_id()
            writer = a.writer(clinic_id)
            writer.insert(Patient, _patient(patient_id, clinic_id), device_id=None, hlc=clock.now())
            starts = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=5)
            row = _appointment(appointment_id, clinic_id, doctor_id, patient_id, starts)
            writer.insert(Appointment, row, device_id=None, hlc=clock.now())
        tokens = {}
        for kind, code in codes.items():
            answer = http.post(
                f"{base_url}/v1/devices/enroll", json={"code": code, "name": f"bench {kind}", "kind": kind}
            )
            answer.raise_for_status()
            tokens[kind] = answer.json()["token"]
        login = http.post(
            f"{base_url}/v1/auth/login",
            json={"username": username, "password": PASSWORD},
            headers={"Authorization": f"Bearer {tokens['desk']}"},
        )
        login.raise_for_status()
        return appointment_id, login.json()["token"], tokens["kiosk"]
    finally:
        engine.dispose()
        http.close()


def _patient(patient_id: str, clinic_id: str) -> dict[str, Any]:
    name = "Bench Patient"
    return {
        "id": patient_id, "clinic_id": clinic_id, "code": human_code("PAT"), "full_name": name,
        "name_key": name_key(name), "birth_date": date(1980, 1, 1), "sex": "unknown", "phone": None,
        "email": None, "address": "", "allergies": "", "preferred_language": "en", "merged_into": None,
    }  # fmt: skip


def _appointment(
    appointment_id: str, clinic_id: str, doctor_id: str, patient_id: str, starts: datetime
) -> dict[str, Any]:
    return {
        "id": appointment_id, "clinic_id": clinic_id, "code": human_code("APT"), "clinician_id": doctor_id,
        "patient_id": patient_id, "starts_at": starts, "ends_at": starts + timedelta(minutes=15), "seat": 0,
        "kind": AppointmentType.TELEHEALTH.value, "urgency": "routine", "emergency": False,
        "status": AppointmentStatus.CONFIRMED.value, "reason": "bench", "status_note": "",
        "rescheduled_from": None, "series_id": None, "booked_by": None,
    }  # fmt: skip


def _side(role: str, url: str, token: str, width: int, height: int, seconds: float) -> subprocess.Popen[str]:
    here = Path(__file__).resolve()
    path = os.pathsep.join([str(here.parents[1]), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, str(here), "--side", role, "--url", url, "--token", token,
         "--size", f"{width}x{height}", "--seconds", str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip


def _until(process: subprocess.Popen[str], key: str, timeout: float) -> dict[str, Any]:
    """The first JSON line from the side's stdout that has `key`."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"a side exited early (code {process.wait()})")
        message: dict[str, Any] = json.loads(line)
        if key in message:
            return message
    raise TimeoutError(f"no {key!r} within {timeout} s")


def one_call(base_url: str, database_url: str, width: int, height: int, seconds: float) -> dict[str, Any]:
    from desktop.media.signalling import calls_url

    appointment_id, doctor_token, kiosk_token = telehealth_call(base_url, database_url)
    url = calls_url(base_url, appointment_id)
    patient = _side("patient", url, kiosk_token, width, height, seconds)
    doctor = None
    try:
        _until(patient, "state", 60)  # it waits in the room (its imports are done)
        doctor = _side("doctor", url, doctor_token, width, height, seconds)
        timeout = 60 + seconds
        sides = {"doctor": _until(doctor, "role", timeout), "patient": _until(patient, "role", timeout)}
    finally:
        for process in (patient, doctor):
            if process is not None:
                if process.stdin is not None:
                    process.stdin.close()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
    medians = [s["latency_median_ms"] for s in sides.values() if s["latency_median_ms"] is not None]
    return {
        "connect_ms": sides["doctor"]["connect_ms"],
        "first_frame_ms": sides["doctor"]["first_frame_ms"],
        "fps": min(s["fps"] for s in sides.values()),
        "latency_median_ms": max(medians) if medians else None,
        "cpu_pct_per_side": max(s["cpu_pct"] for s in sides.values()),
        "size": f"{width}x{height}",
        "seconds": seconds,
        "sides": sides,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s at 640×480 only")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--seconds", type=float, help="the measured window (default 30, --quick 10)")
    parser.add_argument("--side", choices=("doctor", "patient"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="640x480", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    if args.side:
        width, height = (int(v) for v in args.size.split("x"))
        asyncio.run(run_side(args.side, args.url, args.token, width, height, seconds))
        return 0

    from server_stub.background import serving
    from server_stub.db import sqlite_url

    log = ProgressLog(not args.json)
    stolen = StolenTime()
    sizes = [(640, 480)] if args.quick else [(640, 480), (1280, 720)]
    with tempfile.TemporaryDirectory(prefix="bench-call-") as folder:
        database_url = sqlite_url(Path(folder) / "server.db")
        with serving(database_url) as base_url:
            runs = []
            for width, height in sizes:
                log(f"a call at {width}×{height}@{FPS} for {seconds:.0f} s")
                runs.append(one_call(base_url, database_url, width, height, seconds))
                log(json.dumps({k: v for k, v in runs[-1].items() if k != "sides"}))
    result: dict[str, Any] = {key: runs[0][key] for key in TARGETS}
    result["targets"] = TARGETS
    result["met"] = {key: _met(key, runs[0][key]) for key in TARGETS}
    result["runs"] = runs
    result["steal_percent"] = stolen.percent()
    result["load_avg"] = os.getloadavg()
    result["machine"] = machine()
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


def _met(key: str, value: float | None) -> bool:
    if value is None:
        return False
    return value >= TARGETS[key] if key == "fps" else value <= TARGETS[key]


if __name__ == "__main__":
    sys.exit(main())
