"""Security benchmark: another clinic's pushes during a flood of wrong sign-ins (issue 11).

    python bench/security.py --quick --json    # SQLite, 8 s per stage, one JSON object on stdout (< 1 min)
    python bench/security.py                   # SQLite then PostgreSQL, 30 s per stage, tables

The server is the real app (`server_stub.app.create_app` under uvicorn, as `clinic server run`
serves it: GIL switch interval 1 ms, frozen start-up heap) in a process of its own on 127.0.0.1,
over a new SQLite file or a scratch PostgreSQL database. Clinic "Flooded" has a doctor and 4
enrolled desks; clinic "Other" has one desk. Set-up is not measured.

- **quiet**: Other's desk sends an empty push (`{"device_id", "ops": []}`) every 20 ms; each push's
  latency from before the request to its parsed answer.
- **flood** (`push_p99_during_login_flood_ms`): the same pushes while 8 threads sign in to
  Flooded as fast as they can, from its 4 desks, with made-up usernames and wrong passwords; the
  server's default rate limits (throttle.Rules()), so once the device and address limits are
  reached the sign-ins are answered 429 without a password check.
- **checks** (`push_p99_during_password_checks_ms`): the same, on a server whose limits are
  lifted, so that every sign-in is an argon2 check: what the pushes pay for checks themselves.
  Before issue 11 a sign-in held the server-wide write lock while argon2 ran, and an empty push
  took up to 1.5 s during such a flood.

Figures are wall-clock times from `time.perf_counter`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from common import ProgressLog, StolenTime, machine, percentile  # bench/common.py
from sync import DEFAULT_POSTGRES, HOST, free_port, server_database  # bench/sync.py

from desktop.domain.clock import HybridLogicalClock
from desktop.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

TARGETS: dict[str, tuple[str, float]] = {
    "push_p99_during_login_flood_ms": ("<=", 50.0),
    "push_p99_during_password_checks_ms": ("<=", 50.0),
}
PUSH_EVERY_S = 0.02
FLOOD_THREADS = 8
ATTACKER_DESKS = 4
STARTUP_TIMEOUT_S = 60.0
LIFTED = 10**9


@dataclass(frozen=True)
class Sizes:
    stage_s: float


QUICK, FULL = Sizes(stage_s=8.0), Sizes(stage_s=30.0)


# -- the server ----------------------------------------------------------------------------------


def serve(database_url: str, port: int, lifted: bool) -> None:
    """The server process: `clinic server run`'s app and settings, with the limits lifted if asked."""
    import uvicorn

    from server_stub.app import create_app
    from server_stub.cli import GIL_SWITCH_INTERVAL_S
    from server_stub.throttle import Rule, Rules

    rules = Rules(*(Rule(LIFTED) for _ in range(4))) if lifted else Rules()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app = create_app(database_url, freeze_heap=True, run_migrations=False, throttle=rules)
    uvicorn.run(app, host=HOST, port=port, log_level="warning")


@contextmanager
def server(database_url: str, *, lifted: bool, log: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, __file__, "serve", database_url, str(port)] + (["--lifted"] if lifted else [])
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the sync server did not start:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(base_url + "/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- clinics -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    attackers: list[str]  # Flooded's desk tokens
    other_device: str
    other_token: str


def set_up(database_url: str, base_url: str) -> Cast:
    from server_stub import admin
    from server_stub.db import create_server_engine

    engine = create_server_engine(database_url)
    try:
        with engine.begin() as conn:
            a = admin.Admin(conn, datetime.now(UTC), HybridLogicalClock("bench"))
            flooded = admin.create_clinic(a, name="Flooded", timezone="Asia/Kolkata", region="IN")
            admin.add_user(a, clinic_id=flooded, username="dr_flooded", name="Dr Flooded", role="doctor",
                           password=secrets.token_urlsafe(12))  # fmt: skip
            other = admin.create_clinic(a, name="Other", timezone="Asia/Kolkata", region="IN")
            codes = [admin.enrolment_code(a, kind="desk", clinic_id=flooded) for _ in range(ATTACKER_DESKS)]
            other_code = admin.enrolment_code(a, kind="desk", clinic_id=other)
    finally:
        engine.dispose()

    def enrol(code: str) -> dict[str, str]:
        answer = requests.post(
            f"{base_url}/v1/devices/enroll", json={"code": code, "name": "Bench", "kind": "desk"}, timeout=30
        )
        answer.raise_for_status()
        enrolled: dict[str, str] = answer.json()
        return enrolled

    other_desk = enrol(other_code)
    return Cast([enrol(c)["token"] for c in codes], other_desk["device_id"], other_desk["token"])


def session(token: str) -> requests.Session:
    http = requests.Session()
    http.headers.update({PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Authorization": f"Bearer {token}"})
    return http


# -- the stages ----------------------------------------------------------------------------------


def pushes(base_url: str, cast: Cast, seconds: float) -> list[float]:
    """Other's empty pushes every PUSH_EVERY_S for `seconds`: their latencies in ms."""
    http = session(cast.other_token)
    body = {"device_id": cast.other_device, "ops": []}
    latencies: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        answer = http.post(f"{base_url}/v1/sync/push", json=body, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
        time.sleep(max(0.0, PUSH_EVERY_S - (time.perf_counter() - started)))
    return latencies


def flood(base_url: str, cast: Cast, stop: threading.Event, answers: Counter[int]) -> list[threading.Thread]:
    lock = threading.Lock()

    def attacker(n: int) -> None:
        http = session(cast.attackers[n % len(cast.attackers)])
        tries = 0
        while not stop.is_set():
            tries += 1
            guess = {"username": f"guess_{n}_{tries}", "password": "not-the-password"}
            status = http.post(f"{base_url}/v1/auth/login", json=guess, timeout=60).status_code
            with lock:
                answers[status] += 1

    threads = [threading.Thread(target=attacker, args=(n,), daemon=True) for n in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    return threads


def stage(base_url: str, cast: Cast, seconds: float, *, flooding: bool) -> dict[str, Any]:
    stop = threading.Event()
    answers: Counter[int] = Counter()
    steal = StolenTime()
    threads = flood(base_url, cast, stop, answers) if flooding else []
    try:
        if flooding:
            time.sleep(0.5)  # the flood is on before the first push
        latencies = pushes(base_url, cast, seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    return {
        "push_p50_ms": round(percentile(latencies, 50), 2),
        "push_p99_ms": round(percentile(latencies, 99), 2),
        "push_max_ms": round(max(latencies), 2),
        "pushes": len(latencies),
        "sign_ins": dict(sorted(answers.items())),
        "steal_percent": steal.percent(),
    }


def run_one(db: str, sizes: Sizes, *, postgres_url: str, progress: ProgressLog) -> dict[str, Any]:
    from server_stub.db import migrate

    result: dict[str, Any] = {"db": db}
    for lifted in (False, True):
        with (
            tempfile.TemporaryDirectory(prefix="bench-security-") as tmp,
            server_database(db, Path(tmp), postgres_url) as url,
        ):
            migrate(url)
            with server(url, lifted=lifted, log=Path(tmp) / "server.log") as base_url:
                cast = set_up(url, base_url)
                name = "checks" if lifted else "flood"
                if not lifted:
                    progress(f"{db}: quiet pushes, {sizes.stage_s:g} s")
                    result["quiet"] = stage(base_url, cast, sizes.stage_s, flooding=False)
                progress(f"{db}: pushes during a flood of sign-ins ({name}), {sizes.stage_s:g} s")
                result[name] = stage(base_url, cast, sizes.stage_s, flooding=True)
    figures = {
        "push_p99_during_login_flood_ms": result["flood"]["push_p99_ms"],
        "push_p99_during_password_checks_ms": result["checks"]["push_p99_ms"],
    }
    met = {key: _met(value, *TARGETS[key]) for key, value in figures.items()}
    return {
        **figures,
        "all_targets_met": all(met.values()),
        "met": met,
        **result,
        "load_avg": os.getloadavg(),
    }


def _met(value: float, op: str, target: float) -> bool:
    return value <= target if op == "<=" else value >= target


def table(result: dict[str, Any]) -> str:
    lines = [
        f"## {result['db']}",
        "",
        "| stage | push p50 ms | push p99 ms | max ms | pushes | sign-ins by status | steal |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name in ("quiet", "flood", "checks"):
        s = result[name]
        lines.append(
            f"| {name} | {s['push_p50_ms']} | {s['push_p99_ms']} | {s['push_max_ms']} | {s['pushes']} | "
            f"{s['sign_ins'] or '-'} | {s['steal_percent']}% |"
        )
    lines += ["", *(f"{key}: {result[key]} (target {op} {t:g})" for key, (op, t) in TARGETS.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve(argv[1], int(argv[2]), "--lifted" in argv)
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="SQLite only, 8 s per stage")
    parser.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), help="default: sqlite with --quick")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    db: str = args.db or ("sqlite" if args.quick else "both")
    progress = ProgressLog(not args.json)
    context = {
        "mode": "quick" if args.quick else "full",
        "stage_s": sizes.stage_s,
        "flood_threads": FLOOD_THREADS,
        "targets": {key: f"{op} {target:g}" for key, (op, target) in TARGETS.items()},
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine(),
    }
    runs = [
        {**run_one(d, sizes, postgres_url=args.postgres_url, progress=progress), **context}
        for d in (["sqlite", "postgres"] if db == "both" else [db])
    ]
    if args.json:
        print(json.dumps(runs[0] if len(runs) == 1 else {"db": "both", "runs": runs}))
    else:
        print("\n\n".join(table(r) for r in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
