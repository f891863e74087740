"""`--tour DIR`: every screen of a mode, in each language, rendered offscreen to PNG files.

Each screen may name extra states worth a look (`tour_states`, e.g. the board's stale warning);
each is rendered in the standard theme and in high contrast with large text. Files are named
`{mode}-{screen}[-{state}]-{language}-{theme}.png`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication

from desktop.ui.i18n import LANGUAGES
from desktop.ui.theme import Theme

SIZE = (1920, 1080)
THEMES = {"standard": Theme(), "high-contrast-large": Theme("high_contrast", "large")}


def render_tour(app: object, out_dir: Path, *, size: tuple[int, int] = SIZE) -> list[Path]:
    from desktop.app import App

    assert isinstance(app, App)
    out_dir.mkdir(parents=True, exist_ok=True)
    window, ctx = app.window, app.ctx
    window.resize(*size)
    window.show()
    written: list[Path] = []
    try:
        for theme_name, theme in THEMES.items():
            app.qt.setStyleSheet(theme.style_sheet())
            for language in LANGUAGES:
                ctx.translations.set_language(language)
                for screen in window.screens:
                    window.show_screen(screen)
                    screen.refresh()
                    ctx.ops.wait_idle()
                    for state, enter in screen.tour_states().items():
                        enter()
                        QCoreApplication.processEvents()
                        name = "-".join(
                            p for p in (window.mode, screen.tour_name, state, language, theme_name) if p
                        )
                        path = out_dir / f"{name}.png"
                        window.grab().save(str(path))
                        written.append(path)
                    screen.refresh()
                    ctx.ops.wait_idle()
    finally:
        app.qt.setStyleSheet(ctx.theme.style_sheet())
        ctx.translations.set_language("en")
    return written
