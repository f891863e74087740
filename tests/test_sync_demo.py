"""`clinic demo --headless`: the newcomer's demo runs end to end and shows what it promises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from desktop.cli import main


@pytest.mark.slow
def test_headless_demo_converges_and_shows_the_conflicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--headless", "--dir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    # Both devices hold exactly the server's rows at the end.
    assert out.count("identical to the server") == 2
    assert "DIFFERENT" not in out
    # The slot booked on both devices: the kiosk's (first to sync) kept, the desk's lost.
    assert "kiosk       status confirmed" in out
    assert "follow_up   status conflict" in out
    assert "[server_won] appointment" in out and "(next free:" in out
    # The walk-in registered on both devices is proposed for a merge.
    assert "Sunita Verma vs PAT-" in out
    # The desk's push: its booking lost, the rest applied. How many ops depends on the day (a
    # reminder only for a visit far enough ahead), so the count is not fixed.
    desk_push = re.search(r"Pushed (\d+): applied (\d+), merged 0, conflicts 1,", out)
    assert desk_push is not None
    pushed, applied = map(int, desk_push.groups())
    assert applied == pushed - 1 >= 3
    # Every op of the demo clinic (made by doctors, the nurse, the receptionist, the admin, the
    # kiosk and the device itself) passes the server's check of who may do what.
    assert set(re.findall(r"rejected (\d+)\.", out)) == {"0"}


def test_demo_without_headless_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--dir", str(tmp_path)]) == 2
    assert "clinic demo --headless" in capsys.readouterr().err


def test_demo_refuses_a_folder_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "something").write_text("data")
    assert main(["demo", "--headless", "--dir", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
