"""Translations: Qt Linguist `.ts` sources in `resources/translations/`, switched at run time.

English is the source language (no translator). For another language the `.qm` is taken from
beside its `.ts` when a build compiled it there (`scripts/build_translations`, PyInstaller), else
compiled once with Qt's `lrelease` into the user's cache, named by the `.ts` file's hash so an
edited source is compiled again. `set_language` swaps the translator and emits
`AppSignals.language_changed`; every screen's `translate_ui` re-reads its strings then
(Frescobaldi's `translateUI` pattern).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from platformdirs import user_cache_dir
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from desktop.resources import resource_path
from desktop.settings import APP_NAME
from desktop.ui.signals import AppSignals

SOURCE_LANGUAGE = "en"
LANGUAGES = ("en", "es")  # the languages the app ships; `.ts` files exist for all but the source
CATALOG = "clinicdesk"


class TranslationError(Exception):
    pass


def ts_path(language: str) -> Path:
    return resource_path("translations", f"{CATALOG}_{language}.ts")


def lrelease() -> str:
    import PySide6

    exe = "lrelease.exe" if sys.platform == "win32" else "lrelease"
    bundled = Path(PySide6.__file__).parent / exe
    found = str(bundled) if bundled.exists() else shutil.which("pyside6-lrelease")
    if found is None:
        raise TranslationError("Qt's lrelease was not found; it comes with PySide6.")
    return found


def compiled(language: str, cache_dir: Path | None = None) -> Path:
    """The `.qm` for `language`: a build's, else compiled into the cache on first use."""
    source = ts_path(language)
    built = source.with_suffix(".qm")
    if built.exists() and built.stat().st_mtime >= source.stat().st_mtime:
        return built
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = cache_dir or Path(user_cache_dir(APP_NAME, appauthor=False)) / "translations"
    target = cache / f"{CATALOG}_{language}-{digest}.qm"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        result = subprocess.run(
            [lrelease(), "-silent", str(source), "-qm", str(partial)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0 or not partial.exists():
            raise TranslationError(f"lrelease could not compile {source}: {result.stderr.strip()}")
        partial.replace(target)  # atomic: two apps starting together both end with a whole file
    return target


class Translations:
    """The app's current language and its translator."""

    def __init__(self, signals: AppSignals, cache_dir: Path | None = None):
        self.signals = signals
        self.cache_dir = cache_dir
        self.language = SOURCE_LANGUAGE
        self._translator: QTranslator | None = None

    def close(self) -> None:
        """Take this app's translator off the Qt application (which may outlive it: tests)."""
        app = QCoreApplication.instance()
        if self._translator is not None and app is not None:
            app.removeTranslator(self._translator)
        self._translator = None

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; ClinicDesk speaks {', '.join(LANGUAGES)}")
        app = QCoreApplication.instance()
        assert app is not None, "a QApplication comes first"
        if self._translator is not None:
            app.removeTranslator(self._translator)
            self._translator = None
        if language != SOURCE_LANGUAGE:
            translator = QTranslator(app)
            if not translator.load(str(compiled(language, self.cache_dir))):
                raise TranslationError(f"Qt could not load the {language} translations")
            app.installTranslator(translator)
            self._translator = translator
        self.language = language
        QLocale.setDefault(QLocale(language))
        self.signals.language_changed.emit(language)
