"""Desktop app benchmark: the `clinic` command's start, the board's start, idle cost and memory,
and how soon a call made at a desk is on another device's board.

    python bench/ui.py                   # full: 10 help runs, 60 s idle, 40 calls
    python bench/ui.py --quick --json    # 5 help runs, 5 s idle, 20 calls (4 with no live channel)

- **`cli_help_s`**: `clinic --help` as a user runs it (the venv's `clinic` script, a new process
  each time), median wall time of the runs (max reported too).
- **`board_start_s`**: a new process (`bench/ui.py --board-child`) starts the board app
  (`desktop.app.start`: Qt, theme, translations, the sync worker, the board) on an enrolled board's
  data dir and shows it at 1920×1080 (offscreen); the figure is from the moment the parent spawns
  it to the board's first paint after its first read op has filled it.
- **`board_idle_cpu_pct`**, **`board_rss_mb`**: that board then idles (its clock ticking, its
  sync worker syncing every 5 s with the server, no calls) for the idle window: its process CPU
  time over the window's wall time, as a percentage of one core; its resident memory at the end
  (peak `VmHWM` reported too).
- **`live_p95_ms`**: 10 devices are connected (the board, and 9 other boards' sync workers in
  this process); a desk calls a token through the services and pushes it (`SyncEngine.sync_once`).
  The latency is from just before that push to the moment the board child's item model holds the
  call (the child reports each model reset with its monotonic time: one clock for both
  processes). Every device uses the app's own sync settings: when the live channel (issue 14,
  branch h14-live: `SyncWorker(live=True)`, the default there) is in the tree it wakes the board at
  once; without it the board's 5 s timer brings the call, and the figure says so (`live_channel`).
  bench/live.py (h14-live) measures the device side of the same path with 10 desks.

The server is the real `python -m server_stub run` process on a SQLite file (bench/sync.py's
`server_process`). Set-up is not measured.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from common import ProgressLog, StolenTime, machine, percentile  # noqa: E402
from sync import (  # noqa: E402  (bench/sync.py: the server process, clinics, enrolled devices)
    RECEPTION,
    create_clinic,
    device_template,
    enrol_device,
    enrolment_codes,
    server_process,
    sync_ok,
)

from desktop.domain.roles import Role  # noqa: E402
from desktop.services import queue  # noqa: E402
from desktop.services.common import Actor  # noqa: E402
from desktop.sync.client import SyncClient  # noqa: E402
from desktop.sync.worker import SyncWorker  # noqa: E402

HAS_LIVE_CHANNEL = "live" in inspect.signature(SyncWorker).parameters
TARGETS = {
    "board_start_s": 2.0,
    "cli_help_s": 0.3,
    "live_p95_ms": 1000,
    "board_idle_cpu_pct": 2.0,
    "board_rss_mb": 250,
}


def bench_cli_help(runs: int) -> dict[str, float]:
    clinic = Path(sys.executable).with_name("clinic")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(clinic), "--help"], env=env, stdout=subprocess.DEVNULL, check=True, timeout=60)
        times.append(time.perf_counter() - started)
    return {"cli_help_s": round(statistics.median(times), 3), "cli_help_max_s": round(max(times), 3)}


# -- the board, in its own process ---------------------------------------------------------------


def board_child(spec: dict[str, Any]) -> None:
    """Start the board, report its first paint, idle, report its cost, then report every call."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QObject, QTimer

    from desktop import app
    from desktop.settings import load_settings
    from desktop.store.local import LocalStore

    def say(**values: Any) -> None:
        print(json.dumps(values), flush=True)

    store = LocalStore(Path(spec["data_dir"]))
    token = spec["token"]
    running = app.start(
        store,
        load_settings(data_dir=store.data_dir),
        "board",
        client_factory=lambda: SyncClient(spec["base_url"], token_provider=lambda: token),
    )
    board = running.window.screens[0]

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and getattr(board, "view", None) is not None:
                board.removeEventFilter(self)
                say(first_paint=time.monotonic())
                QTimer.singleShot(0, start_idle)
            return False

    def start_idle() -> None:
        idle["cpu"], idle["wall"] = _cpu_seconds(), time.monotonic()
        QTimer.singleShot(int(spec["idle_s"] * 1000), end_idle)

    def end_idle() -> None:
        wall = time.monotonic() - idle["wall"]
        say(idle_cpu_pct=100 * (_cpu_seconds() - idle["cpu"]) / wall, **_memory_mb())
        board.called.modelReset.connect(
            lambda: say(called=[r.token_id for r in board.called.rows], at=time.monotonic())
        )
        say(ready=True)

    idle: dict[str, float] = {}
    watcher = FirstPaint()
    board.installEventFilter(watcher)
    running.window.resize(1920, 1080)
    running.window.show()
    threading.Thread(
        target=lambda: (sys.stdin.read(), QTimer.singleShot(0, running.qt.quit)), daemon=True
    ).start()
    running.qt.exec()
    running.close()
    store.close()


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _memory_mb() -> dict[str, float]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return {"rss_mb": values.get("VmRSS", 0.0), "peak_rss_mb": values.get("VmHWM", 0.0)}


class BoardProcess:
    def __init__(self, spec: dict[str, Any]):
        self.spawned = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--board-child", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"},
        )
        self.lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(json.loads(line))
                self._cond.notify_all()

    def wait_for(self, key: str, timeout: float, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [line for line in self.lines[after:] if key in line]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise SystemExit(f"the board process did not report {key!r}")
                self._cond.wait(left)

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- the whole run ---------------------------------------------------------------------------------


def run(quick: bool, log: ProgressLog) -> dict[str, Any]:
    steal = StolenTime()
    result: dict[str, Any] = {}
    log("clinic --help")
    result.update(bench_cli_help(5 if quick else 10))
    # Without the live channel each call waits for the board's 5 s timer: fewer of them in --quick.
    idle_s, calls = (5.0, 20 if HAS_LIVE_CHANNEL else 4) if quick else (60.0, 40)
    with tempfile.TemporaryDirectory(prefix="clinicdesk-bench-ui-") as tmp_name:
        tmp = Path(tmp_name)
        with server_process(f"sqlite:///{tmp / 'server.db'}", tmp) as server:
            spec = create_clinic(server, "Bench clinic", doctors=3)
            template = device_template(tmp / "template")
            desk_code, *board_codes = enrolment_codes(server, spec.clinic_id, "desk", 1) + enrolment_codes(
                server, spec.clinic_id, "board", 10
            )
            desk = enrol_device(server.base_url, desk_code, "desk", tmp / "desk", template)
            boards = [
                enrol_device(server.base_url, code, "board", tmp / f"board{n}", template)
                for n, code in enumerate(board_codes)
            ]
            sync_ok(desk)  # the clinic and its doctors
            tokens = []
            with desk.store.unit_of_work() as uow:
                for n in range(calls):
                    doctor = spec.doctor_ids[n % len(spec.doctor_ids)]
                    tokens.append(queue.issue_token(uow, actor=RECEPTION, clinician_id=doctor).id)
            sync_ok(desk)
            for board in boards:
                sync_ok(board)
            others = [
                SyncWorker(
                    b.store,
                    lambda b=b: SyncClient(server.base_url, token_provider=lambda: b.token),
                    interval=5.0,
                )
                for b in boards[1:]
            ]
            for worker in others:
                worker.start()
            shown = boards[0]
            log(f"board: start, first paint, {idle_s:.0f} s idle")
            child = BoardProcess(
                {
                    "data_dir": str(shown.store.data_dir),
                    "base_url": server.base_url,
                    "token": shown.token,
                    "idle_s": idle_s,
                }
            )
            try:
                painted = child.wait_for("first_paint", 60)
                result["board_start_s"] = round(painted["first_paint"] - child.spawned, 3)
                cost = child.wait_for("idle_cpu_pct", idle_s + 60)
                result["board_idle_cpu_pct"] = round(cost["idle_cpu_pct"], 2)
                result["board_rss_mb"] = round(cost["rss_mb"], 1)
                result["board_peak_rss_mb"] = round(cost["peak_rss_mb"], 1)
                child.wait_for("ready", 30)
                log(f"{calls} calls at the desk -> the board")
                latencies = []
                for n, token_id in enumerate(tokens):
                    doctor = spec.doctor_ids[n % len(spec.doctor_ids)]
                    seen = len(child.lines)
                    with desk.store.unit_of_work() as uow:
                        queue.call(
                            uow, actor=Actor(Role.DOCTOR, user_id=doctor), token_id=token_id, room=str(n)
                        )
                    pushed = time.monotonic()
                    sync_ok(desk)
                    while True:
                        update = child.wait_for("called", 30, after=seen)
                        seen = child.lines.index(update) + 1
                        if token_id in update["called"]:
                            break
                    latencies.append((update["at"] - pushed) * 1000)
                    time.sleep(0.3)
                result["live_p95_ms"] = round(percentile(latencies, 95), 1)
                result["live_p50_ms"] = round(percentile(latencies, 50), 1)
                result["live_max_ms"] = round(max(latencies), 1)
                result["live_devices"] = 1 + len(others)
                result["live_channel"] = HAS_LIVE_CHANNEL
            finally:
                child.stop()
                for worker in others:
                    worker.stop()
                for device in (desk, *boards):
                    device.close()
    result["steal_percent"] = steal.percent()
    result["targets"] = TARGETS
    result["machine"] = machine()
    result["load_avg"] = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Smaller sizes: under a minute.")
    parser.add_argument("--json", action="store_true", help="One JSON object on stdout.")
    parser.add_argument("--board-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.board_child:
        board_child(json.loads(args.board_child))
        return
    result = run(args.quick, ProgressLog(not args.json))
    if args.json:
        print(json.dumps(result))
        return
    for key, target in TARGETS.items():
        print(f"{key:22} {result[key]:>10}   target {target}")
    print(f"(live channel in this tree: {result['live_channel']}; steal {result['steal_percent']}%)")


if __name__ == "__main__":
    main()
