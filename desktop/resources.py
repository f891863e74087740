"""Finding the app's data files in `resources/`, wherever the app runs from.

From a source checkout or an editable install, `resources/` sits beside `desktop/`; an installed
wheel puts both packages side by side in site-packages; a PyInstaller bundle unpacks the folder
under `sys._MEIPASS` (the spec copies it there as `resources`).
"""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES = "resources"


def resources_root() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    base = Path(bundle) if bundle else Path(__file__).resolve().parent.parent
    return base / RESOURCES


def resource_path(*parts: str) -> Path:
    """The path of a shipped file, e.g. `resource_path("sounds", "chime.wav")`.

    Raises FileNotFoundError naming the path when the file is not there, so that a typo or a
    file left out of a build fails loudly rather than showing a blank icon.
    """
    path = resources_root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"Resource not found: {path}")
    return path
