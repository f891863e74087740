"""The core runs without Qt or aiortc, and the layering of ARCHITECTURE.md holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CORE = """
import importlib, pkgutil, sys
import desktop, desktop.domain, desktop.store, desktop.services, desktop.sync
for package in (desktop.domain, desktop.store, desktop.services, desktop.sync):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".migrations." not in module.name:
            importlib.import_module(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "aiortc"))
print(len([m for m in sys.modules if m.startswith("desktop.")]))
assert not loaded, loaded
"""


def test_core_packages_import_without_qt_or_aiortc() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CORE], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 20  # the modules really were imported


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
