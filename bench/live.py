"""Live updates benchmark: how soon a change pushed by one device has been pulled by the others,
and what hundreds of idle live connections cost the server.

    python bench/live.py                  # full: SQLite, then two server processes on PostgreSQL (~2 min)
    python bench/live.py --quick --json   # fewer changes, shorter idle window (< 1 min), one JSON object

The servers are real `python -m server_stub run` processes on 127.0.0.1 (bench/sync.py's
`server_process`), over a new SQLite file or a new scratch PostgreSQL database. The devices are
real device stores (`LocalStore`, a SQLite file each), each with the real `SyncWorker`, whose
`LiveListener` holds the live channel (`WS /v1/sync/live`); their timers are 30 s, the app's, so
only the channel can bring a change sooner.

- **`live_p95_ms`** (server on SQLite): 10 desks listen; an 11th registers a patient and pushes it
  (`SyncEngine.sync_once`). The latency of each listening device is from just before that push to
  the moment its worker's sync has returned with the patient in its store (a listener's engine is
  wrapped: `PullWatch`; the moment is after the pulled page's commit). Changes are spaced by
  ~0.3 s, so each is one measurement per device: p50, p95 and max over all of them.
- **`live_p95_ms_postgres_2proc`**: the same with two server processes on one PostgreSQL database;
  the pushing desk talks to process 1, the listeners alternate between processes 1 and 2 (so half
  of them hear of the change through PostgreSQL's NOTIFY). The p95 of each half is reported too.
- **idle** (server on SQLite): 300 devices (12 clinics of 25) hold a live connection each, opened
  from one asyncio thread of this process; the server process's resident memory before and after
  they connect, and its CPU over an idle window with all of them connected (uvicorn and the
  devices ping every 20 s). Then one change in each clinic: the time until all 25 devices of that
  clinic have their notice (`live_fanout_p95_ms_300`, 12 changes × 25 devices).

`--quick`: 15 changes (full 60), an idle window of 6 s (full 60), SQLite and PostgreSQL.
The device-side pieces (`listening_devices`, `PullWatch`, `measure_changes`) are meant to be
reused by bench/ui.py, which measures the same path to the board's model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import threading
import time as clock
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from common import ProgressLog, StolenTime, machine, percentile
from sync import (  # bench/sync.py: the server process, scratch databases, enrolled devices
    DEFAULT_POSTGRES,
    RECEPTION,
    Device,
    Server,
    create_clinic,
    device_template,
    enrol_device,
    enrolment_codes,
    server_database,
    server_process,
    sync_ok,
)

from desktop.services import patients
from desktop.store.local import LocalStore
from desktop.store.models import Patient
from desktop.sync.client import SyncClient
from desktop.sync.engine import SyncEngine
from desktop.sync.protocol import LIVE_PATH, PROTOCOL_HEADER, PROTOCOL_VERSION
from desktop.sync.report import SyncReport
from desktop.sync.worker import SyncWorker

TARGETS: dict[str, tuple[str, float]] = {
    "live_p95_ms": ("<=", 1000.0),
    "live_p95_ms_postgres_2proc": ("<=", 1000.0),
}
LISTENERS = 10
IDLE_CLINICS = 12
IDLE_PER_CLINIC = 25  # a clinic hands out 26 device letters
GAP_S = 0.3  # between two changes: each is measured on its own
TIMEOUT_S = 10.0  # a change not pulled by then is a failure of the run
BORN = date(1950, 1, 1)  # each change a patient born a day later: no two look like one person


@dataclass(frozen=True)
class Sizes:
    changes: int
    idle_s: float


QUICK = Sizes(changes=15, idle_s=6.0)
FULL = Sizes(changes=60, idle_s=60.0)


# -- listening devices (reusable) ----------------------------------------------------------------


class PullWatch:
    """An engine factory for `SyncWorker` that, after each sync, sees which watched rows the
    device's store now holds and when. `expect(model, id)` before the change; `seen(model, id)`
    is the `time.perf_counter()` of the first sync that returned with it, or None."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: dict[tuple[type[Any], str], float | None] = {}

    def expect(self, model: type[Any], row_id: str) -> None:
        with self._cond:
            self._watched[(model, row_id)] = None

    def seen(self, model: type[Any], row_id: str, timeout: float) -> float | None:
        with self._cond:
            self._cond.wait_for(lambda: self._watched[(model, row_id)] is not None, timeout)
            return self._watched.pop((model, row_id))

    def __call__(self, store: LocalStore, client: SyncClient) -> SyncEngine:
        engine = SyncEngine(store, client)
        real = engine.sync_once

        def watched(**options: Any) -> SyncReport:
            report = real(**options)
            at = clock.perf_counter()
            with self._cond:
                waiting = [key for key, when in self._watched.items() if when is None]
            if waiting:
                with store.reading() as session:
                    found = [key for key in waiting if session.get(*key) is not None]
                with self._cond:
                    for key in found:
                        self._watched[key] = at
                    self._cond.notify_all()
            return report

        engine.sync_once = watched  # type: ignore[method-assign]
        return engine


@dataclass
class Listening:
    device: Device
    worker: SyncWorker
    watch: PullWatch
    server_url: str


def listening_devices(
    urls: list[str], codes: list[str], kind: str, folder: Path, template: Path, **worker_options: Any
) -> list[Listening]:
    """Enrol a device per code (on `urls[0]`), give each a running `SyncWorker` on `urls[i % n]`,
    and wait until every one has synced and holds its live connection."""
    out: list[Listening] = []
    for n, code in enumerate(codes):
        device = enrol_device(urls[0], code, kind, folder / f"{kind}-{n}", template)
        url, token = urls[n % len(urls)], device.token
        watch = PullWatch()
        worker = SyncWorker(
            device.store,
            lambda url=url, token=token: SyncClient(url, token_provider=lambda: token),
            engine_factory=watch,
            **worker_options,
        )
        worker.start()
        out.append(Listening(device, worker, watch, url))
    deadline = clock.monotonic() + 60
    while not all(each.worker.status().live and each.worker.status().state == "online" for each in out):
        if clock.monotonic() > deadline:
            raise SystemExit("the listening devices did not all connect within 60 s")
        clock.sleep(0.05)
    return out


def stop_all(listening: list[Listening]) -> None:
    for each in listening:
        each.worker.stop(timeout=10)
        each.device.close()


def measure_changes(
    changer: Device,
    listening: list[Listening],
    changes: int,
    make_change: Callable[[Device, int], tuple[type[Any], str]],
    progress: ProgressLog,
) -> list[tuple[Listening, float]]:
    """`make_change(changer, n)` commits a change and names its row; the changer pushes it; each
    listening device's latency (ms) until its worker has pulled it."""
    out: list[tuple[Listening, float]] = []
    for n in range(changes):
        key = make_change(changer, n)
        for each in listening:
            each.watch.expect(*key)
        started = clock.perf_counter()
        sync_ok(changer)
        for each in listening:
            at = each.watch.seen(*key, timeout=TIMEOUT_S)
            if at is None:
                raise SystemExit(f"change {n} was not pulled by {each.device.device_id} within {TIMEOUT_S} s")
            out.append((each, (at - started) * 1000))
        if n and n % 10 == 0:
            progress(f"  {n} changes")
        clock.sleep(GAP_S)
    return out


def register(changer: Device, n: int) -> tuple[type[Any], str]:
    with changer.store.unit_of_work() as uow:
        patient = patients.register(
            uow,
            actor=RECEPTION,
            full_name=f"Live Test {n:04d}",
            birth_date=BORN + timedelta(days=n),
            phone=None,
        )
        return Patient, patient.id


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(latencies, 50), 1),
        "p95": round(percentile(latencies, 95), 1),
        "max": round(max(latencies), 1),
    }


# -- stages --------------------------------------------------------------------------------------


def bench_latency(servers: list[Server], sizes: Sizes, tmp: Path, progress: ProgressLog) -> dict[str, Any]:
    first = servers[0]
    spec = create_clinic(first, "Live latency", doctors=0)
    template = device_template(tmp / "template")
    codes = enrolment_codes(first, spec.clinic_id, "desk", LISTENERS + 1)
    changer = enrol_device(first.base_url, codes[0], "desk", tmp / "changer", template)
    sync_ok(changer)
    urls = [server.base_url for server in servers]
    listening = listening_devices(urls, codes[1:], "desk", tmp, template)
    try:
        progress(
            f"{LISTENERS} devices listening on {len(servers)} server process(es); {sizes.changes} changes"
        )
        results = measure_changes(changer, listening, sizes.changes, register, progress)
    finally:
        stop_all(listening)
        changer.close()
    out: dict[str, Any] = {"all": summary([ms for _, ms in results])}
    if len(servers) > 1:
        out["same_process"] = summary([ms for each, ms in results if each.server_url == first.base_url])
        out["other_process"] = summary([ms for each, ms in results if each.server_url != first.base_url])
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_idle(server: Server, sizes: Sizes, tmp: Path, progress: ProgressLog) -> dict[str, Any]:
    """300 live connections held by one asyncio thread; the server's memory and idle CPU, and one
    change per clinic fanned out to its 25 devices."""
    clinics = []
    for n in range(IDLE_CLINICS):
        spec = create_clinic(server, f"Idle {n}", doctors=0)
        tokens = []
        for code in enrolment_codes(server, spec.clinic_id, "desk", IDLE_PER_CLINIC):
            answer = requests.post(
                server.base_url + "/v1/devices/enroll",
                json={"code": code, "name": f"idle {n}", "kind": "desk"},
                timeout=10,
            )
            answer.raise_for_status()
            tokens.append((answer.json()["token"], answer.json()["device_id"]))
        clinics.append((spec.clinic_id, tokens))
    pid = server.process.pid
    requests.get(server.base_url + "/v1/health", timeout=5)
    before_mb = rss_mb(pid)
    total = IDLE_CLINICS * IDLE_PER_CLINIC
    progress(f"opening {total} live connections (server RSS {before_mb:.1f} MB)")
    result = asyncio.run(_idle(server, clinics, sizes.idle_s, before_mb, progress))
    return result


async def _idle(
    server: Server,
    clinics: list[tuple[str, list[tuple[str, str]]]],
    idle_s: float,
    before_mb: float,
    progress: ProgressLog,
) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    url = "ws" + server.base_url.removeprefix("http") + LIVE_PATH
    heard: dict[int, list[float]] = {}  # connection -> perf_counter of each notice after the first

    async def hold(at: int, token: str, ready: asyncio.Event, done: asyncio.Event) -> None:
        headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Authorization": f"Bearer {token}"}
        async with connect(url, additional_headers=headers, compression=None, max_size=4096) as ws:
            await ws.recv()  # where the clinic stands
            heard[at] = []
            ready.set()
            while not done.is_set():
                try:
                    await asyncio.wait_for(ws.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                heard[at].append(clock.perf_counter())

    done = asyncio.Event()
    tasks, readies = [], []
    for n, (_, tokens) in enumerate(clinics):
        for m, (token, _) in enumerate(tokens):
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.create_task(hold(n * IDLE_PER_CLINIC + m, token, ready, done)))
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=60)
    await asyncio.sleep(1.0)
    connected_mb = rss_mb(server.process.pid)
    progress(f"{len(tasks)} connected (server RSS {connected_mb:.1f} MB); idle for {idle_s:.0f} s")
    cpu_before = server.cpu()
    started = clock.perf_counter()
    await asyncio.sleep(idle_s)
    idle_cpu_pct = 100 * server.cpu_since(cpu_before) / (clock.perf_counter() - started)

    fanout: list[float] = []
    for n, (clinic_id, tokens) in enumerate(clinics):
        first = n * IDLE_PER_CLINIC
        pushed = await asyncio.to_thread(_push_patient, server, clinic_id, *tokens[0])
        deadline = clock.perf_counter() + TIMEOUT_S
        while any(not heard[first + m] for m in range(IDLE_PER_CLINIC)):
            if clock.perf_counter() > deadline:
                raise SystemExit(f"clinic {n}: not every device heard of the change within {TIMEOUT_S} s")
            await asyncio.sleep(0.005)
        fanout += [(heard[first + m][0] - pushed) * 1000 for m in range(IDLE_PER_CLINIC)]
        others = [at for at in heard if not first <= at < first + IDLE_PER_CLINIC and heard[at]]
        if others:
            raise SystemExit(f"a change of clinic {n} woke devices of another clinic")
        for m in range(IDLE_PER_CLINIC):
            heard[first + m].clear()
    done.set()
    await asyncio.gather(*tasks)
    return {
        "live_idle_connections": len(tasks),
        "live_idle_server_cpu_pct": round(idle_cpu_pct, 2),
        "live_idle_server_rss_mb_before": round(before_mb, 1),
        "live_idle_server_rss_mb_connected": round(connected_mb, 1),
        "live_idle_server_kb_per_connection": round((connected_mb - before_mb) * 1024 / len(tasks), 1),
        "live_fanout_p95_ms_300": round(percentile(fanout, 95), 1),
        "live_fanout_max_ms_300": round(max(fanout), 1),
    }


def _push_patient(server: Server, clinic_id: str, token: str, device_id: str) -> float:
    """A patient registered by a plain push (no device store): returns when it was sent."""
    from desktop.domain.ids import human_code, new_id

    http = requests.Session()
    http.headers.update({PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Authorization": f"Bearer {token}"})
    op = {
        "op_id": new_id(),
        "entity": "patient",
        "entity_id": new_id(),
        "action": "register",
        "base_version": 0,
        "data": {
            "clinic_id": clinic_id,
            "code": human_code("PAT"),
            "full_name": "Fan Out",
            "name_key": "fan out",
            "birth_date": "1990-01-01",
            "sex": "unknown",
            "phone": None,
            "email": None,
            "address": "",
            "allergies": "",
            "preferred_language": "en",
            "merged_into": None,
            "deleted": False,
        },
        "hlc": f"{int(clock.time() * 1000):013d}-0000-{device_id}",
    }
    sent = clock.perf_counter()
    answer = http.post(
        server.base_url + "/v1/sync/push", json={"device_id": device_id, "ops": [op]}, timeout=10
    )
    answer.raise_for_status()
    status = answer.json()["results"][0]["status"]
    if status != "applied":
        raise SystemExit(f"the fan-out change was not applied: {answer.text[:300]}")
    return sent


# -- the run -------------------------------------------------------------------------------------


@contextmanager
def servers_on(db: str, count: int, tmp: Path, postgres_url: str) -> Iterator[list[Server]]:
    tmp.mkdir(parents=True)
    with ExitStack() as stack:
        url = stack.enter_context(server_database(db, tmp, postgres_url))
        folders = [tmp / f"server-{n}" for n in range(count)]
        for folder in folders:
            folder.mkdir()
        yield [stack.enter_context(server_process(url, folder)) for folder in folders]


def run(sizes: Sizes, postgres_url: str, progress: ProgressLog) -> dict[str, Any]:
    results: dict[str, Any] = {}
    stolen: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="clinicdesk-live-bench-") as name:
        tmp = Path(name)
        during = StolenTime()
        with servers_on("sqlite", 1, tmp / "sqlite", postgres_url) as servers:
            progress(f"SQLite: server pid {servers[0].process.pid}")
            latency = bench_latency(servers, sizes, tmp / "sqlite", progress)
            results["live_p95_ms"] = latency["all"]["p95"]
            results["live_ms_sqlite"] = latency["all"]
            stolen["sqlite"], during = during.percent(), StolenTime()
            results.update(bench_idle(servers[0], sizes, tmp / "sqlite", progress))
            stolen["idle"], during = during.percent(), StolenTime()
        with servers_on("postgres", 2, tmp / "postgres", postgres_url) as servers:
            progress(f"PostgreSQL: server pids {[s.process.pid for s in servers]}")
            latency = bench_latency(servers, sizes, tmp / "postgres", progress)
            results["live_p95_ms_postgres_2proc"] = latency["all"]["p95"]
            results["live_ms_postgres_2proc"] = latency
            stolen["postgres"] = during.percent()
    met = {key: _met(results[key], *TARGETS[key]) for key in TARGETS}
    return {
        **{key: results.pop(key) for key in TARGETS},
        **results,
        "targets_met": met,
        "all_targets_met": all(met.values()),
        "steal_percent": stolen,
    }


def _met(value: float, op: str, target: float) -> bool:
    return value <= target if op == "<=" else value >= target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 changes and a 6 s idle window (< 1 min)")
    parser.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help=f"a PostgreSQL server (default {DEFAULT_POSTGRES})"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    progress = ProgressLog(not args.json)
    started = clock.perf_counter()
    load_before = os.getloadavg()[0]
    result = run(sizes, args.postgres_url, progress)
    result.update(
        {
            "mode": "quick" if args.quick else "full",
            "changes": sizes.changes,
            "listening_devices": LISTENERS,
            "idle_window_s": sizes.idle_s,
            "targets": {key: f"{op} {target:g}" for key, (op, target) in TARGETS.items()},
            "date": datetime.now(UTC).date().isoformat(),
            "total_s": round(clock.perf_counter() - started, 1),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "machine": machine(),
        }
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
