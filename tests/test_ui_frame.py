"""The app's frame: ops off the GUI thread with answers on it, the change signal and stale
screens, errors as calm messages, private logs, one app per data dir, the theme's contrast,
translations switched at run time, and a light `clinic --help`."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from desktop.domain.errors import InvalidInput
from desktop.services import queue
from desktop.store.changes import Changes, Origin
from desktop.store.local import LocalStore
from desktop.ui.ops import ReadOp, WriteOp
from desktop.ui.screen import Screen
from desktop.ui.theme import TEXT_PAIRS, Theme, contrast_ratio
from tests.fixtures.ui import AppFactory, audio_sink, make_app  # noqa: F401
from tests.support import ClinicSetup

REPO = Path(__file__).resolve().parents[1]


class QueueScreen(Screen):
    """A screen that shows the queue's length: enough to watch when it reloads."""

    interests = frozenset({"queue_token"})

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self.length: int | None = None

    def load(self) -> None:
        ReadOp(self, lambda session, now: len(queue.view(session, now=now))).success(self._show).run(
            self.ctx.ops
        )

    def _show(self, length: int) -> None:
        self.length = length

    def translate_ui(self) -> None:
        pass


def issue(store: LocalStore, clinic: ClinicSetup) -> str:
    with store.unit_of_work() as uow:
        return queue.issue_token(uow, actor=clinic.desk).code


def test_a_write_op_runs_off_the_gui_thread_and_answers_on_it(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    app = make_app(store)
    screen = app.window.screens[0]
    threads: dict[str, threading.Thread] = {}
    answers: list[str] = []
    changes: list[tuple[Changes, object]] = []
    app.ctx.signals.changed.connect(lambda c, initiator: changes.append((c, initiator)))

    def work(uow: Any) -> str:
        threads["op"] = threading.current_thread()
        return queue.issue_token(uow, actor=clinic.desk).code

    def done(code: str) -> None:
        threads["answer"] = threading.current_thread()
        answers.append(code)

    WriteOp(screen, work).success(done).run(app.ctx.ops)
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    assert threads["op"] is not threading.main_thread()
    assert threads["answer"] is threading.main_thread()
    assert answers == ["A-001"]
    assert len(changes) == 1
    made, initiator = changes[0]
    assert initiator is screen and made.origin is Origin.LOCAL and "queue_token" in made


def test_a_typed_failure_goes_to_the_screen_and_a_bug_becomes_a_calm_message(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory, caplog: Any
) -> None:
    app = make_app(store)
    app.window.show()
    screen = app.window.screens[0]
    refused: list[Exception] = []

    def refuse(_uow: Any) -> None:
        raise InvalidInput("That token does not exist.", field="token_id")

    WriteOp(screen, refuse).failure(refused.append).run(app.ctx.ops)
    qtbot.waitUntil(lambda: bool(refused), timeout=5000)
    assert isinstance(refused[0], InvalidInput)
    assert not app.window.notice.isVisible()

    def crash(_uow: Any) -> None:
        raise RuntimeError("a bug that quotes a patient: " + "Zel" + "da Quist")  # not to be logged

    with caplog.at_level(logging.ERROR):
        WriteOp(screen, crash).run(app.ctx.ops)
        qtbot.waitUntil(app.window.notice.isVisible, timeout=5000)
    assert "log" in app.window.notice.text() and "Zelda" not in app.window.notice.text()
    log_file = store.data_dir / "logs" / "clinicdesk.log"
    logged = log_file.read_text()
    assert "RuntimeError" in logged and "Zelda" not in logged
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    # The app goes on: the next op works.
    codes: list[str] = []
    WriteOp(screen, lambda uow: queue.issue_token(uow, actor=clinic.desk).code, actor=clinic.desk).success(
        codes.append
    ).run(app.ctx.ops)
    qtbot.waitUntil(lambda: bool(codes), timeout=5000)
    assert codes == ["A-001"]


def test_an_exception_in_a_slot_is_logged_and_shown_and_the_app_goes_on(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    from PySide6.QtCore import QTimer

    app = make_app(store)
    app.window.show()

    def broken() -> None:
        raise ValueError("a bug in a timer")

    QTimer.singleShot(0, broken)
    qtbot.waitUntil(app.window.notice.isVisible, timeout=5000)
    assert "ValueError" in (store.data_dir / "logs" / "clinicdesk.log").read_text()


def test_a_hidden_screen_refreshes_only_when_shown_and_the_initiator_not_twice(
    qtbot: Any, store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    app = make_app(store)
    shown, hidden = QueueScreen(app.ctx), QueueScreen(app.ctx)
    host = QWidget()
    shown.setParent(host)
    host.show()
    qtbot.waitUntil(lambda: shown.length == 0, timeout=5000)
    assert shown.loads == 1 and hidden.loads == 0

    issue(store, clinic)  # a change made elsewhere (not by an op of these screens)
    qtbot.waitUntil(lambda: shown.length == 1, timeout=5000)
    assert shown.loads == 2
    assert hidden.loads == 0 and hidden.stale

    done: list[str] = []
    WriteOp(shown, lambda uow: queue.issue_token(uow, actor=clinic.desk).code).success(done.append).run(
        app.ctx.ops
    )
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    app.ctx.ops.wait_idle()
    assert shown.loads == 2  # it made the change: it updates itself from the answer

    app.ctx.signals.changed.emit(Changes.of(Origin.PULL, [("patient", "p1")]), None)  # not shown
    assert shown.loads == 2

    hidden.setParent(host)
    hidden.show()
    qtbot.waitUntil(lambda: hidden.length == 2, timeout=5000)
    assert hidden.loads == 1


def test_a_second_app_on_the_same_data_dir_is_refused(
    store: LocalStore, clinic: ClinicSetup, make_app: AppFactory
) -> None:
    make_app(store)
    with pytest.raises(InvalidInput, match="already running"):
        make_app(store)


@pytest.mark.parametrize(("contrast", "minimum"), [("standard", 4.5), ("high_contrast", 7.0)])
def test_every_text_colour_is_readable_on_its_background(contrast: Any, minimum: float) -> None:
    colours = Theme(contrast).colours()
    for foreground, background in TEXT_PAIRS:
        ratio = contrast_ratio(colours[foreground], colours[background])
        assert ratio >= minimum, (contrast, foreground, background, round(ratio, 2))


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_every_variant_of_the_style_sheet_fills_in() -> None:
    for contrast in ("standard", "high_contrast"):
        for size in ("normal", "large"):
            sheet = Theme(contrast, size).style_sheet()  # type: ignore[arg-type]
            assert "$" not in sheet and "QLabel#staleWarning" in sheet


def test_clinic_help_loads_no_database_server_or_qt() -> None:
    code = (
        "import sys, desktop.cli\n"
        "try:\n    desktop.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'fastapi', 'numpy', "
        "'PySide6', 'uvicorn', 'requests', 'aiortc'})\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert "board" in result.stdout and "server" in result.stdout  # every command is listed


def test_a_subcommand_loads_only_its_own_module() -> None:
    code = (
        "import sys, desktop.cli\n"
        "try:\n    desktop.cli.main(['backup', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('server_stub', 'desktop.sync', 'desktop.ui')\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert "LOADED []" in result.stdout, result.stdout + result.stderr
    assert "--force" in result.stdout


def test_a_mode_without_a_display_says_so_and_how_to_see_its_screens(
    store: LocalStore,
    clinic: ClinicSetup,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop.cli import main

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["--data-dir", str(store.data_dir), "board"]) == 2
    err = capsys.readouterr().err
    assert "no display here" in err and "--tour DIR" in err


def test_icons_are_found_through_the_resources_helper(qapp: Any) -> None:
    from desktop.ui.theme import icon

    assert not icon("clinicdesk").pixmap(64, 64).isNull()
    with pytest.raises(FileNotFoundError):
        icon("no-such-icon")


def test_rotated_logs_stay_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop import logs

    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    handler = logs.set_up_logging(tmp_path, "INFO")
    try:
        for n in range(400):
            logging.getLogger("test").warning("line %d of the log, long enough to rotate it soon", n)
    finally:
        logs.stop_logging(handler)
    files = sorted((tmp_path / "logs").iterdir())
    assert len(files) == 1 + logs.BACKUPS
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700


def test_translations_are_compiled_from_the_ts_sources_into_the_cache_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QTranslator

    from desktop.ui import i18n

    first = i18n.compiled("es", tmp_path)
    assert first.parent == tmp_path and first.suffix == ".qm"
    made = first.stat().st_mtime_ns
    assert i18n.compiled("es", tmp_path) == first and first.stat().st_mtime_ns == made  # not again
    translator = QTranslator()
    assert translator.load(str(first))
    assert translator.translate("Board", "Now calling") == "Llamando ahora"
    # An edited source is a new file in the cache.
    edited = tmp_path / "src" / "translations" / "clinicdesk_es.ts"
    edited.parent.mkdir(parents=True)
    edited.write_text(i18n.ts_path("es").read_text().replace("Llamando ahora", "Llamamos a"))
    monkeypatch.setattr(i18n, "ts_path", lambda language: edited)
    second = i18n.compiled("es", tmp_path)
    assert second != first and translator.load(str(second))
    assert translator.translate("Board", "Now calling") == "Llamamos a"
