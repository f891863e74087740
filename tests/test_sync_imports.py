"""desktop.sync runs without Qt or aiortc: the server, the CLI and headless kiosks import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import importlib, pkgutil, sys
import desktop.sync
names = [m.name for m in pkgutil.walk_packages(desktop.sync.__path__, "desktop.sync.")]
for name in names:
    importlib.import_module(name)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "aiortc", "av", "cv2"))
assert not heavy, heavy
print(len(names))
"""


def test_desktop_sync_imports_no_qt_and_no_media_stack() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10  # client, credentials, engine, worker, cli, ...
